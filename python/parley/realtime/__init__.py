"""Parley's realtime service: Supabase Realtime's broadcast-from-database, channels and presence.

See docs/realtime.md.
"""

from parley.realtime.service import RealtimeConfig, RealtimeService, ServiceThread, serve_forever

__all__ = ["RealtimeConfig", "RealtimeService", "ServiceThread", "serve_forever"]
