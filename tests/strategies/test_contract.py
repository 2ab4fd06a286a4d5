"""Every registered strategy against the shipped contract suite, on the smoke table."""

from nasrepro.strategies.testing import *  # noqa: F401,F403
