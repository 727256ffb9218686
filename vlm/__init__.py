"""The breadth side: expert trajectories, verifiable VLM task records, verifiers, trainer formats."""
