"""Social and messaging channels: Telegram, Meta (Messenger, Instagram, WhatsApp), Twilio
(SMS, WhatsApp) and the generic signed API channel.

``secrets`` encrypts channel secrets at rest; ``http`` is the one outbound HTTP client
(rate limits and server errors become retryable channel errors); ``signatures`` holds the
constant-time checks; ``views`` the webhook endpoints under ``/hooks/<kind>/<channel-key>/``.
The adapters themselves live in ``channels_inbox/adapters/<kind>.py``.
"""
