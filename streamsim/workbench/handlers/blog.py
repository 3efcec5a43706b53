"""The blog's Lambda handler, as printed in the post, and the post's "small mistake".

The author cleaned up the generated stub so each event prints as one line of JSON.
"""

from __future__ import annotations

import json
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> str:
    print("Received event: " + json.dumps(event))
    for _record in event["Records"]:
        print("do something useful")
    return "Successfully processed {} records.".format(len(event["Records"]))


def lambda_handler_with_mistake(event: dict[str, Any], context: Any) -> str:
    """The blog: "I made a small mistake in the lambda code. This caused processing to fail"."""
    print("Received event: " + event)  # type: ignore[operator]  # the mistake: no json.dumps
    for _record in event["Records"]:
        print("do something useful")
    return "Successfully processed {} records.".format(len(event["Records"]))
