"""Client tests (`oeskit client-test`): grade a partner's own client code by running it against
a sandbox that plays the server. Black box: this package talks to the sandbox only over HTTP
(the partner API and `/sandbox/`), never through the reference implementation."""
