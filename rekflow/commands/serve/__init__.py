"""`rekflow serve`: a local page over a results folder or a deployed stack, on 127.0.0.1 only.

- server.py: the HTTP server (the standard library's ThreadingHTTPServer), the loopback-only bind and the
  Host check every request passes (a page from another site cannot reach it through DNS rebinding).
- routes.py: Request, Response and the route table: one `Route` per method and path, each a plain function
  of (app, request) that the unit tests call without a socket.
- csrf.py: what every state-changing route must pass: a same-origin check and the page's CSRF token.
- library.py: where hits, documents and media come from: the results folder (its SQLite index, its documents,
  the analysed files) or a stack (Athena through the engine seam, media by presigned URL).
- hits.py: a hit as the page shows it: its evidence, the boxes of what matched, its thumbnail and media.
- search.py: the search page and GET /api/search.
- review.py: the review page (GET /review, POST /api/review); its reviews are a folder's (folder_reviews.py) or a
  stack's (stack_reviews.py), each card showing what was flagged (flagged.py).

Adding a page (the review page, issue 20): write its handlers in a module here, add their `Route`s to
`ROUTES` in routes.py (a state-changing one with `changes_state=True`: the dispatcher then refuses it
unless csrf.check passes), and have its page send the token from `<meta name="csrf-token">` in the
`X-CSRF-Token` header of each POST (static/search.js's `rekflow.post` does).
"""
