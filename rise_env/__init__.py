"""rise_env: the world model (dynamics + value) and the Gymnasium environments built on it.

Importing this package registers the imagination environments with Gymnasium
(``RISE/BrickSorting-v0``); torch is only imported when an env is made.
"""

from rise_env.envs.registration import register_envs

__version__ = "0.1.0"

register_envs()
