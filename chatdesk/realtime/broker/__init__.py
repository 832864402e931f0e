from chatdesk.realtime.broker.base import Broker
from chatdesk.realtime.broker.memory import MemoryBroker
from chatdesk.realtime.broker.redis import RedisBroker

__all__ = ["Broker", "MemoryBroker", "RedisBroker"]
