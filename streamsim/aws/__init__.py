"""The local AWS: what Amazon runs for the pipeline, emulated or served on this machine.

- ``backend``: the embedded DynamoDB-compatible server (moto) or any endpoint, boto3 clients, and
  the safety checks that keep a run off real AWS unless asked;
- ``tables``: table specs and creation (streams, view types);
- ``stream``: DynamoDB Streams read with the four stream actions (and an in-memory stream);
- ``trigger``: Lambda's event source mapping for DynamoDB streams (batching, retries, bisect,
  partial batch responses, filters, on-failure destinations, checkpoints).

May import: the standard library, third-party packages and the base (``streamsim.errors``,
``streamsim.clock``, ``streamsim.validation``). Never ``streamsim.game`` or
``streamsim.workbench``: the trigger calls any handler and knows nothing of badges.
"""
