"""Load testing: scripted callers against real agent sessions, with timed fakes of cloud providers.

Everything in this package is a test harness. The fakes (`FakeCloudSTT`, `FakeCloudLLM`,
`FakeCloudTTS`) stand in for paid cloud APIs only; the agent session, Silero VAD, the Temporal
worker and PostgreSQL stay real.
"""
