"""The conformance suite: scenarios and a fuzz pass run as a black box over HTTP against any
target. Never imports oeskit.domain, oeskit.store or oeskit.http."""
