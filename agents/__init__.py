"""Policies, PPO assembly, rollout storage, checkpoints and evaluation for depthfirst."""
