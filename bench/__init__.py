"""The bench: ``harness`` (torch training, sweeps, reproduce), ``sim`` (the simulated-clock
runner, leaderboards, validate; no torch), ``cli`` (the ``nasrepro`` command line, the only
place that prints) and ``tracking`` (MLflow). Nothing heavy is imported here."""
