"""What arrives from outside: mail received over SMTP (MIME parsing in ``_mime``, threading and
storage in ``inbound``) and custom-channel messages (``POST /v1/messages``).
"""
