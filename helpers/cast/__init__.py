"""The cast of the course: the frontend web app, the agent and the fitness API."""
