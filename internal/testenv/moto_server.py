"""moto server, plus one endpoint keywarden's tests need and moto lacks.

moto never sets an IAM user's password_last_used over its API (it is only
reachable in-process), so this wrapper adds:

    POST /_keywarden/iam/password-used?user=NAME[&account=ID]

which stamps the user's password_last_used with moto's "now" (under
libfaketime, the shifted clock).

It also serialises DynamoDB requests. DynamoDB applies each conditional
write and each transaction atomically; moto's threaded server does not: it
reads the item, checks the condition and writes in separate steps that
concurrent requests interleave (two racing `attribute_not_exists` writes
can both succeed), and a cancelled TransactWriteItems restores a copy of
the whole table, undoing writes made meanwhile. keywarden's state store
relies on that atomicity, and its tests race several clients, so the
harness runs one DynamoDB request at a time.

Everything else is plain moto.server; the arguments are moto.server's
(-H HOST -p PORT).
"""
import sys
import threading

from moto import server

PASSWORD_USED_PATH = "/_keywarden/iam/password-used"
DEFAULT_ACCOUNT = "123456789012"


def _password_used(environ, start_response):
    from urllib.parse import parse_qs

    from moto.core.utils import utcnow
    from moto.iam.models import iam_backends

    query = parse_qs(environ.get("QUERY_STRING", ""))
    name = query.get("user", [""])[0]
    account = query.get("account", [DEFAULT_ACCOUNT])[0]
    try:
        user = iam_backends[account]["aws"].get_user(name)
    except Exception as exc:  # NoSuchEntity and the like
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [f"user {name!r} in account {account}: {exc}".encode()]
    user.password_last_used = utcnow()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [user.password_last_used.isoformat().encode()]


_moto_call = server.DomainDispatcherApplication.__call__

# One DynamoDB request at a time: see the module's docstring.
_dynamodb_lock = threading.Lock()


def _dispatch(self, environ, start_response):
    if (
        environ.get("PATH_INFO") == PASSWORD_USED_PATH
        and environ.get("REQUEST_METHOD") == "POST"
    ):
        return _password_used(environ, start_response)
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb_lock:
            return _moto_call(self, environ, start_response)
    return _moto_call(self, environ, start_response)


server.DomainDispatcherApplication.__call__ = _dispatch

if __name__ == "__main__":
    server.main(sys.argv[1:])
