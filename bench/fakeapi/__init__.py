"""A fake Kubernetes API server (kube-apiserver 1.32 over HTTP/1.1) for svcdns's tests and bench.

Built from the recordings of a real kube-apiserver 1.32 described in `k8s-api/README.md`
(the numbers below are that README's facts). Only GET is served: tests change the cluster
with `apply()` / `delete()`, which bump one global resourceVersion (RV) shared by all kinds
and notify the open watches at once.

Reproduced:
- HTTP/1.1 with keep-alive; headers `Audit-Id`, `Cache-Control: no-cache, private`,
  `Content-Type: application/json` (watches too), `X-Kubernetes-Pf-*-Uid` (not on 401),
  `X-Content-Type-Options: nosniff` (403 and text/plain answers), `Date`, in the recorded
  order; `Content-Length` for a body of at most 2048 bytes, else one chunk of a chunked body
  (fact 2); no `Server` header.
- Compact JSON with Go's escaping of `<`, `>`, `&`, U+2028/9 and a final newline (3); list
  items without kind/apiVersion, watch objects with them (4); list metadata `resourceVersion`
  (+ `continue`, `remainingItemCount`, the latter only without selectors); items in storage
  key order (`namespace/name` bytewise, 7); continue tokens byte-identical to the real ones
  (base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\\u0000"}`), pages of a consistent
  snapshot at the first page's RV (9); Exact lists of a past RV (8); after `compact()`, HTTP
  410 for an Exact list or a continue token from before it, the latter with a fresh token
  (rv -1) resuming at the current RV, as recorded.
- Status bodies shaped as recorded: 400 (label selector syntax, with the real parser's
  messages; unsupported field label), 401 (bad token), 403 (no token: system:anonymous),
  404 (object, namespace, unknown resource with `details: {}`, unknown group path as
  text/plain `404 page not found`), 410, 504 (RV too large).
- Watches (10-14): 200 with the headers flushed at once; one JSON event per line; a lone
  event is one chunk, events queued together are coalesced and re-cut at 2048 bytes like
  Go's bufio (so a chunk can end mid-line); from RV R every later change, then live ones;
  DELETED carries the last state with the deletion's RV; objects entering/leaving a
  selector come as ADDED/DELETED; `timeoutSeconds` ends the body with the 0-length chunk
  and the connection stays usable; an RV older than the last `compact()` gives HTTP 200
  with one ERROR event `too old resource version: R (C)` then the clean end (14); an RV
  newer than the current one gives the recorded ERROR 504 `Too large resource version`.
- Initial events (28, the etcd 3.5 behaviour of a real 1.32 cluster, not the etcd-3.4
  errors of fact 27): a watch with resourceVersion "" or "0", or with
  `sendInitialEvents=true`, starts with one ADDED per object (key order, each its own RV,
  each its own chunk); when `allowWatchBookmarks=true` too, a BOOKMARK with the
  `k8s.io/initial-events-end` and list-blueprint annotations and the snapshot RV follows.
- BOOKMARK objects are the recorded per-kind skeletons (13). They are sent only on
  `send_bookmarks()` (no timer), only to watches that asked, and only once the bookmark RV
  is newer than the watch's start RV (a watch from a fresh LIST RV on an idle cluster gets
  none, as recorded). The RV is the global one; set `bookmark_rv_per_kind = True` for the
  newest RV of the watched kind, what the recordings (etcd 3.4) show.
- Discovery `/api` (serverAddress rewritten to this server's address), `/api/v1`, `/apis`,
  `/apis/discovery.k8s.io/v1` are the recorded bodies; `/version` the recorded indented
  body without a final newline; `/healthz`, `/readyz`, `/livez` text/plain `ok`. `/version`
  and the health paths need no token (a wrong one still gets 401), as on a real cluster.

Beyond the interface svcdns's tests rely on: `resource_version` can be moved forward (never
back), `get()` returns a stored object, `delete()` raises KeyError for a missing object,
`clear_faults()` forgets pending fail_next() calls; `list_delays` holds back each page of
the lists under a path; `encode_lists()` encodes every object as a list item ahead of the
first list (each is encoded once while current); `bookmark_rv_per_kind`,
`tls_available()`, use as a context manager. `requests` logs every request, rejected ones
included. `drop_watches()`, `go_down()` and `stop()` end
watches like a killed apiserver: the connection closes without the terminating chunk (the
Python client raises urllib3's ProtocolError "Response ended prematurely").

Not reproduced: writes through the API (POST/PUT/PATCH/DELETE get 405 MethodNotAllowed),
controllers (no EndpointSlice/Endpoints are derived from Services and Pods, deleting a
Namespace deletes nothing else, no defaulting: objects are stored as given plus name,
namespace, uid, resourceVersion and creationTimestamp), RBAC (every valid token may read
everything), the watch-cache window (only `compact()` expires RVs), the 3 s wait before a
"too large RV" error, periodic bookmarks, `resourceVersion=0` lists served from an older
cache, protobuf, gzip and HTTP/2.

The package, one module per concern: `kinds` (the five served kinds), `bodies` (Go's JSON,
Status bodies, continue tokens), `selectors` (label and field selectors), `store` (objects,
the global RV and its history), `watch` (what each watch sees), `httpd` (HTTP/1.1 framing,
chunked writing), `routes` (paths, discovery, refusals), `resources` (GET, list, watch of a
kind), `tls` (a certificate of its own), `recorded` (the recorded documents), `server`
(`FakeApiServer`). It imports nothing of svcdns, tests/ or bench/: both use it.
"""

from __future__ import annotations

from .server import FORBIDDEN_USER, FakeApiServer
from .tls import tls_available

__all__ = ["FORBIDDEN_USER", "FakeApiServer", "tls_available"]
