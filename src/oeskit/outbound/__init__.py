"""The sandbox's calls out, as BitGo, to a partner's hosted endpoints (`partner-hosted.yaml`):
the HTTP client with its signing, timeout and retries (`client`), and the flows that drive the
domain's allocation rules through it (`flows`). Never imported by the domain or the store."""
