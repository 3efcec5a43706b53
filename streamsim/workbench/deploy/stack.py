"""Deploy and tear down a stack with CloudFormation change sets, on any Backend.

``up``: upload the Lambda zip to S3 (bucket ``streamsim-deploy-<account>-<region>``, key
``<stack>/badges-<sha256[:12]>.zip``: an unchanged package keeps its key), create a change set
(CREATE for a new stack, UPDATE for an existing one), wait for it, execute it, wait for the
stack, and return its outputs. ``down``: delete the stack, wait, and delete the stack's
packages (the bucket stays when other stacks' packages are in it).
[CS] docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from streamsim.aws.backend import Backend
from streamsim.errors import BackendError
from streamsim.workbench.deploy.package import Package


@dataclass(frozen=True)
class Deployed:
    """A stack after ``up``: its name, status, outputs and where its package is."""

    stack: str
    status: str
    outputs: dict[str, str]
    code_bucket: str
    code_key: str
    change_set_type: str


def code_bucket(backend: Backend) -> str:
    """The account's and region's bucket for streamsim packages."""
    account = backend.client("sts").get_caller_identity()["Account"]
    return f"streamsim-deploy-{account}-{backend.region}"


def upload_package(backend: Backend, stack: str, package: Package) -> tuple[str, str]:
    """Put the zip in the code bucket (created if missing); return (bucket, key)."""
    s3 = backend.client("s3")
    bucket = code_bucket(backend)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if backend.region != "us-east-1":  # us-east-1 takes no LocationConstraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": backend.region}
        s3.create_bucket(**kwargs)
    key = f"{stack}/badges-{package.sha256[:12]}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=Path(package.path).read_bytes())
    return bucket, key


def up(
    backend: Backend,
    stack: str,
    template_body: str,
    package: Package,
    *,
    create_mapping: bool = True,
    delay_seconds: float = 5.0,
) -> Deployed:
    """Create or update ``stack``; return its outputs. BackendError names a failed step."""
    cfn = backend.client("cloudformation")
    bucket, key = upload_package(backend, stack, package)
    change_type = "UPDATE" if _exists(cfn, stack) else "CREATE"
    name = f"streamsim-{int(time.time())}"
    parameters = [
        {"ParameterKey": "CodeBucket", "ParameterValue": bucket},
        {"ParameterKey": "CodeKey", "ParameterValue": key},
        {"ParameterKey": "CreateMapping", "ParameterValue": "true" if create_mapping else "false"},
    ]
    created = False
    try:
        cfn.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            ChangeSetType=change_type,
            TemplateBody=template_body,
            Parameters=parameters,
            Capabilities=["CAPABILITY_IAM"],
        )
        created = True
        _wait(cfn, "change_set_create_complete", delay_seconds, StackName=stack, ChangeSetName=name)
        cfn.execute_change_set(StackName=stack, ChangeSetName=name)
        waiter = "stack_create_complete" if change_type == "CREATE" else "stack_update_complete"
        _wait(cfn, waiter, delay_seconds, StackName=stack)
    except (ClientError, BackendError) as exc:
        message = exc.response["Error"].get("Message", "") if isinstance(exc, ClientError) else ""
        if not _no_changes(message or str(exc)):
            raise BackendError(f"stack {stack}: {message or exc}") from None
        # AWS fails a change set that changes nothing; the stack is as asked.
        if created:
            cfn.delete_change_set(StackName=stack, ChangeSetName=name)
        change_type = "NONE"
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return Deployed(
        stack=stack,
        status=described["StackStatus"],
        outputs=outputs(cfn, stack),
        code_bucket=bucket,
        code_key=key,
        change_set_type=change_type,
    )


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    """The stack's outputs; BackendError when there is no such stack."""
    try:
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        raise BackendError(f"stack {stack}: {exc.response['Error'].get('Message', exc)}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def down(backend: Backend, stack: str, *, delay_seconds: float = 5.0) -> list[str]:
    """Delete the stack and its packages; return what was deleted, one line each."""
    cfn = backend.client("cloudformation")
    if not _exists(cfn, stack):
        raise BackendError(f"stack {stack} does not exist (nothing to tear down)")
    cfn.delete_stack(StackName=stack)
    _wait(cfn, "stack_delete_complete", delay_seconds, StackName=stack)
    deleted = [f"stack {stack}"]
    s3 = backend.client("s3")
    bucket = code_bucket(backend)
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{stack}/").get("Contents", [])
    except ClientError:
        return deleted
    for obj in listed:
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
        deleted.append(f"s3://{bucket}/{obj['Key']}")
    if not s3.list_objects_v2(Bucket=bucket).get("Contents"):
        s3.delete_bucket(Bucket=bucket)
        deleted.append(f"bucket {bucket}")
    return deleted


def _no_changes(message: str) -> bool:
    """AWS: "The submitted information didn't contain changes..."; moto: "No updates are to be
    performed."."""
    return "didn't contain changes" in message or "No updates are to be performed" in message


def _exists(cfn: Any, stack: str) -> bool:
    try:
        found = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError:
        return False
    return bool(found) and found[0]["StackStatus"] != "DELETE_COMPLETE"


def _wait(cfn: Any, waiter: str, delay: float, **kwargs: Any) -> None:
    """A botocore waiter (its first check is immediate); failure names the stack's reason."""
    try:
        cfn.get_waiter(waiter).wait(
            WaiterConfig={"Delay": max(1, int(delay)), "MaxAttempts": 360}, **kwargs
        )
    except WaiterError as exc:
        reason = exc.last_response.get("StatusReason") or exc.last_response.get("Stacks", [{}])[
            0
        ].get("StackStatusReason")
        raise BackendError(f"{kwargs.get('StackName')}: {waiter} failed: {reason or exc}") from None
