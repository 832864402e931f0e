"""The e-mail channel (contract section 10): offline replies, status mails, inbound mail.

outbound.py queues and sends, compose.py builds MIME, inbound.py reads and routes,
receiver.py is the SMTP server, addresses.py signs reply addresses, and
extension.py wires them into the desk as ``desk.ext["mail"]``. See docs/email.md.
"""
