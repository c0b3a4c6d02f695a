"""Media made in code (the samples, 12 MP phone photos), thumbnails, and where each analysed file came from."""
