"""The live-chat widget's server side: session endpoint, websocket, HTTPS fallback.

The protocol and the security model are in docs/channels/chat.md; the wire format of a
stored visitor message is in ``channels_inbox/adapters/chat.py``.
"""
