"""``streamsim deploy``: the badge handler and its mapping on AWS, from the same config.

- ``package``: the Lambda zip (the deployable game wing, standard library + boto3 only);
- ``template``: the CloudFormation template (tables, function, role, queue, mapping, alarms);
- ``plan``: what a stack creates and what it costs a month at a rate (streamsim.workbench.cost);
- ``stack``: deploy and tear down with CloudFormation change sets;
- ``cli``: the ``streamsim deploy`` command.
"""
