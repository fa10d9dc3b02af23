"""An offline emulator of AWS Bedrock AgentCore Identity (control and data planes)."""
