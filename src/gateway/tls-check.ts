// A start-up check that the gateway's certificate and key belong together. Gio loads a
// certificate and a key from two files without checking the pair (glib-networking 2.74,
// measured: the key of another certificate loads fine); GnuTLS refuses it only during a
// handshake, so with a wrong key every viewer's TLS would fail while the gateway looked
// healthy. One handshake with itself over a private unix socket finds out at start
// (measured: "Public key signature verification has failed" for a wrong key).
//
// Plain AsyncReadyCallbacks throughout: the same with promisified calls ended in "Cannot
// perform blocking operation during TLS handshake" even for a good pair.

import Gio from "gi://Gio";
import GLib from "gi://GLib";

/** How long the self-handshake may take before the check gives up. */
const CHECK_TIMEOUT_MS = 10000;

function describe(e: unknown): string {
  return e instanceof GLib.Error || e instanceof Error ? e.message : String(e);
}

/** GnuTLS's connections also implement GDtlsConnection, whose handshake_async shadows this one. */
const tls = Gio.TlsConnection.prototype;

/**
 * Resolves when a TLS server with `certificate` completes a handshake with a client that
 * accepts any certificate; rejects with the reason.
 */
export function checkCertificatePair(certificate: Gio.TlsCertificate): Promise<void> {
  const dir = GLib.dir_make_tmp("porthole-gateway-tls-XXXXXX");
  const path = `${dir}/check.sock`;
  const listener = new Gio.SocketListener();
  const cancellable = new Gio.Cancellable();
  const open: Gio.IOStream[] = [];
  return new Promise<void>((resolve, reject) => {
    let finished = 0;
    let settled = false;
    const settle = (error: unknown) => {
      if (settled) return;
      if (error === null && ++finished < 2) return;
      settled = true;
      GLib.source_remove(timer);
      cancellable.cancel();
      for (const s of open) s.close_async(GLib.PRIORITY_DEFAULT, null, null);
      listener.close();
      GLib.unlink(path);
      GLib.rmdir(dir);
      if (error === null) resolve();
      else reject(new Error(describe(error)));
    };
    const timer = GLib.timeout_add(GLib.PRIORITY_DEFAULT, CHECK_TIMEOUT_MS, () => {
      settle(new Error("the TLS self-check did not finish"));
      return GLib.SOURCE_REMOVE;
    });
    const handshake = (connection: Gio.TlsConnection) => {
      open.push(connection);
      void tls.handshake_async.call(connection, GLib.PRIORITY_DEFAULT, cancellable, (_source, result) => {
        try {
          tls.handshake_finish.call(connection, result);
          settle(null);
        } catch (e) {
          settle(e);
        }
      });
    };
    try {
      listener.add_address(Gio.UnixSocketAddress.new(path), Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, null);
    } catch (e) {
      settle(e);
      return;
    }
    listener.accept_async(cancellable, (_l, result) => {
      try {
        const [accepted] = listener.accept_finish(result);
        handshake(Gio.TlsServerConnection.new(accepted, certificate));
      } catch (e) {
        settle(e);
      }
    });
    new Gio.SocketClient().connect_async(Gio.UnixSocketAddress.new(path), cancellable, (client, result) => {
      try {
        if (!client) throw new Error("no socket client");
        const connection = Gio.TlsClientConnection.new(client.connect_finish(result), null);
        // Any certificate will do: the pair is checked, not its chain or name.
        connection.connect("accept-certificate", () => true);
        handshake(connection);
      } catch (e) {
        settle(e);
      }
    });
  });
}
