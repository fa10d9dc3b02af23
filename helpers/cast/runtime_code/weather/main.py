"""The weather agent as deployed to AgentCore Runtime, its key a deploy-time secret.

The key arrives in the runtime's environment variables (notebook 06: the template's
``EnvironmentVariables``), read once, at start-up. The agent answers with the key it
uses, masked: rotating it takes an UpdateAgentRuntime, a new version and a new process.
"""

import os

from bedrock_agentcore.runtime import BedrockAgentCoreApp

from helpers.masking import mask

WEATHER_API_KEY = os.environ["WEATHER_API_KEY"]
app = BedrockAgentCoreApp()


@app.entrypoint
def invoke(payload: dict) -> dict:
    return {"key": mask(WEATHER_API_KEY), "pid": os.getpid()}


if __name__ == "__main__":
    app.run()
