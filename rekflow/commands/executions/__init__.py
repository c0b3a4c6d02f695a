"""Executions of a local run or a deployed stack: their records, histories, summaries, and a local replay."""
