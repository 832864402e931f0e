"""chatdesk: a self-hosted live chat support desk."""

__version__ = "0.1.0"
