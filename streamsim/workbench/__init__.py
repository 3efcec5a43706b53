"""The workbench: what a person runs on their machine to study the pipeline.

Runs (live ``run``, virtual ``virtual``, ``sweep``), synthetic ``traffic``, fault injection
(``faults``), run folders (``runfolder``), ``analysis``, ``plots``, the ``report``, the blog's
``walkthrough`` and its ``handlers``, the IAM ``policy``, and the ``cli``.

May import everything: the base, ``streamsim.aws`` and ``streamsim.game``. Nothing imports the
workbench but the package's public API (``streamsim/__init__``), lazily.
"""
