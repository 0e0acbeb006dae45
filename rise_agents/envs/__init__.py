"""Physical environments sharing the chunked env interface: the MuJoCo twin and the real AgileX rig."""
