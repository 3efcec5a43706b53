"""The game service the blog built: the part that is deployed as the Lambda function.

- ``plays``: the play schema; ``playstore``: the play API and play items;
- ``achievements``: idempotent award writes and the player's page;
- ``handler``: the badge handler (``lambda_handler``) attached to the Plays table's stream;
- ``badges``: the badge rules and the one evaluator (incremental for the handler, batch for
  notebooks).

May import: the standard library, boto3/botocore, ``streamsim.errors`` and ``streamsim.game``.
This is the deployable boundary: everything here except the batch path
(``badges.batch``, ``badges.frames``, which use pandas and numpy and are imported lazily) runs
on the Lambda runtime's Python with boto3 alone. Never imports ``streamsim.aws`` or
``streamsim.workbench`` (tests/test_architecture.py checks it).
"""
