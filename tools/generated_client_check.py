"""A client generated from ``/openapi.json`` by openapi-python-client works against a live
server: it creates a post, reads it back, and gets a parsed 401 without a token.
``python tools/generated_client_check.py`` (the generator lives in its own virtualenv under
``$OPC_HOME``, default ``~/.cache/missive-opc``: its pins are not ours).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from missive_server.testing import running

GENERATOR = "openapi-python-client==0.29.1"
HOME = Path.home() / ".cache/missive-opc"

SMOKE = """
import sys
from missive_client import AuthenticatedClient, Client
from missive_client.api.posts import create_post_v1_posts_post as create_post
from missive_client.api.conversations import (
    list_conversation_posts_v1_conversations_conversation_id_posts_get as list_posts,
)
from missive_client.models import ErrorEnvelope, PostCreatedEnvelope, PostsCreateBody

url, token, conversation = sys.argv[1:4]
body = PostsCreateBody.from_dict({"posts": {
    "conversation": conversation, "text": "from a generated client",
    "notification": {"title": "Generated", "body": "client"}}})
with AuthenticatedClient(base_url=url, token=token) as client:
    made = create_post.sync_detailed(client=client, body=body)
    assert made.status_code == 201, made.content
    assert isinstance(made.parsed, PostCreatedEnvelope), made.parsed
    read = list_posts.sync(conversation_id=made.parsed.posts.conversation, client=client)
    texts = [post.text for post in read.posts]
    assert "from a generated client" in texts, texts
with Client(base_url=url) as anonymous:
    refused = create_post.sync_detailed(client=anonymous, body=body)
    assert refused.status_code == 401, refused.status_code
    assert isinstance(refused.parsed, ErrorEnvelope), refused.parsed
    print("401:", refused.parsed.error.message)
print("generated client: post created, read back, 401 without a token")
"""


def generator_python() -> Path:
    python = HOME / "bin/python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(HOME)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", GENERATOR], check=True)
    return python


def main() -> int:
    python = generator_python()
    with running(seed="demo") as server, tempfile.TemporaryDirectory() as workdir:
        with server.client() as client:
            document = client.get("/openapi.json").json()
        spec = Path(workdir) / "openapi.json"
        spec.write_text(json.dumps(document))
        subprocess.run(
            [
                str(HOME / "bin/openapi-python-client"),
                "generate",
                "--path",
                str(spec),
                "--meta",
                "none",
                "--output-path",
                str(Path(workdir) / "missive_client"),
            ],
            check=True,
            capture_output=True,
        )
        conversation = server.ids["conversations"]["demo-login-problem"]
        result = subprocess.run(
            [str(python), "-c", SMOKE, server.url, server.token or "", conversation],
            cwd=workdir,
            check=False,
        )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
