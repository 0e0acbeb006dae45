"""Learned models of the world and of the policy: dynamics, value and the VLA backbone."""
