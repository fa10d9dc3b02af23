"""The fitness coach agent as deployed to AgentCore Runtime (direct code deployment).

Its configuration comes from the runtime's environment variables (``COACH_*``), its AWS
credentials from the runtime's execution role. ``app.run()`` serves on port 8080, as the
runtime's HTTP contract asks; the lab serves it on a loopback port of its own instead.
"""

from helpers.cast.coach_agent import app_from_env

app = app_from_env()

if __name__ == "__main__":
    app.run()
