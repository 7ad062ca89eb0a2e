"""Report writers (JSON, JUnit XML, HTML, Markdown) and redaction. Writers only consume a
finished `Report`; they compute no verdicts and never see an unredacted secret."""
