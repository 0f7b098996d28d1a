"""The model gateway: one provider interface, an OpenAI-compatible provider, an offline demo
provider, a scripted one for tests, and the price table that turns token usage into cost."""
