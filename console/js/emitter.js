// A tiny synchronous event emitter: on() returns the function that unsubscribes.

export class Emitter {
  #handlers = new Map();

  on(type, fn) {
    if (!this.#handlers.has(type)) this.#handlers.set(type, new Set());
    this.#handlers.get(type).add(fn);
    return () => this.#handlers.get(type)?.delete(fn);
  }

  emit(type, data) {
    for (const fn of this.#handlers.get(type) ?? []) {
      try {
        fn(data);
      } catch (err) {
        console.error(`handler for '${type}' failed`, err);
      }
    }
  }
}
