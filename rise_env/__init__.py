"""rise_env: the world model (dynamics + value) and the Gymnasium environments built on it.

Importing this package registers the imagination environments with Gymnasium.
"""

__version__ = "0.1.0"
