// Browser globals noVNC's modules touch when they are evaluated, for the bench bundle only
// (imported by bench-novnc.ts before any noVNC module). core/websock.js reads the
// WebSocket readyState constants at load time; GJS has no WebSocket. (core/util/logging.js
// also reads `window.console`, which GJS already provides.)

const g = globalThis as Record<string, unknown>;
g.WebSocket ??= { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
