"""`rekflow review`: moderation reviews listed, shown and decided. common: what both sides share; folder: offline, on
a results folder `rekflow analyze` wrote; stack: on a deployed stack (docs/guides/review.md)."""
