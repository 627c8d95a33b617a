import Adw from "gi://Adw";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import Gtk from "gi://Gtk?version=4.0";

import { fingerprintLines, PortholeCertificateDialog } from "../../src/app/certificate-dialog.js";
import { forgetConnection, PortholeConnectDialog, rememberConnection } from "../../src/app/connect-dialog.js";
import { PortholeCredentialsDialog } from "../../src/app/credentials-dialog.js";
import { viewerSettings } from "../../src/platform/config.js";
import { TlsCertificateError } from "../../src/platform/transport.js";
import { sh } from "./certificates.js";
import { run, tempDir } from "./processes.js";

function* descendants(widget: Gtk.Widget): Generator<Gtk.Widget> {
  for (let child = widget.get_first_child(); child; child = child.get_next_sibling()) {
    yield child;
    yield* descendants(child);
  }
}

/** The widget named `name` (Gtk.Widget:name) inside `root`, checked to be a `type`. */
function named<T extends Gtk.Widget>(root: Gtk.Widget, name: string, type: abstract new (...args: never[]) => T): T {
  for (const w of descendants(root)) if (w.get_name() === name && w instanceof type) return w;
  throw new Error(`no ${type.name} named “${name}”`);
}

function has(root: Gtk.Widget, name: string): boolean {
  for (const w of descendants(root)) if (w.get_name() === name) return true;
  return false;
}

function rows(dialog: Gtk.Widget): Adw.ActionRow[] {
  return [...descendants(dialog)].filter((w): w is Adw.ActionRow => w instanceof Adw.ActionRow);
}

/** Enter in an entry: GtkText’s Enter binding emits `activate`. */
function pressEnter(editable: Gtk.Editable): void {
  const text = editable.get_delegate();
  if (!(text instanceof Gtk.Text)) throw new Error("the entry has no GtkText inside");
  text.emit("activate");
}

/** Lets GTK process what a response or close queued (the dialogs close themselves). */
function iterate(): void {
  const context = GLib.MainContext.default();
  for (let i = 0; i < 20 && context.pending(); i++) context.iteration(false);
}

/** Whether a promise has settled, without waiting for it. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol("pending");
  return (await Promise.race([promise, Promise.resolve(pending)])) !== pending;
}

describe("the connect dialog’s recent connections", () => {
  let settings: Gio.Settings;

  beforeEach(() => {
    settings = viewerSettings();
    settings.reset("recent-connections");
  });
  afterEach(() => {
    settings.reset("recent-connections");
  });

  it("keeps the most recent first, once, and at most max", () => {
    rememberConnection(settings, "vnc://a:5900");
    rememberConnection(settings, "vnc://b:5900");
    rememberConnection(settings, "vnc://c:5900");
    expect(settings.get_strv("recent-connections")).toEqual(["vnc://c:5900", "vnc://b:5900", "vnc://a:5900"]);
    rememberConnection(settings, "vnc://a:5900");
    expect(settings.get_strv("recent-connections")).toEqual(["vnc://a:5900", "vnc://c:5900", "vnc://b:5900"]);
    rememberConnection(settings, "vnc://d:5900", 3);
    expect(settings.get_strv("recent-connections")).toEqual(["vnc://d:5900", "vnc://a:5900", "vnc://c:5900"]);
    for (let i = 0; i < 15; i++) rememberConnection(settings, `vnc://host${i}:5900`);
    const list = settings.get_strv("recent-connections");
    expect(list.length).toBe(10);
    expect(list[0]).toBe("vnc://host14:5900");
    expect(list[9]).toBe("vnc://host5:5900");
  });

  it("forgets one connection and leaves the others in order", () => {
    for (const uri of ["vnc://a:5900", "vnc://b:5900", "vnc://c:5900"]) rememberConnection(settings, uri);
    forgetConnection(settings, "vnc://b:5900");
    expect(settings.get_strv("recent-connections")).toEqual(["vnc://c:5900", "vnc://a:5900"]);
    let changes = 0;
    const id = settings.connect("changed::recent-connections", () => changes++);
    forgetConnection(settings, "vnc://never:5900");
    settings.disconnect(id);
    expect(changes).toBe(0);
    expect(settings.get_strv("recent-connections")).toEqual(["vnc://c:5900", "vnc://a:5900"]);
  });
});

describe("the connect dialog", () => {
  let settings: Gio.Settings;
  let parent: Gtk.Window;

  beforeEach(() => {
    settings = viewerSettings();
    settings.reset("recent-connections");
    parent = new Gtk.Window();
    parent.present();
  });
  afterEach(() => {
    parent.destroy();
    settings.reset("recent-connections");
  });

  it("is modal on its parent", () => {
    const dialog = new PortholeConnectDialog(parent, settings);
    dialog.present();
    expect(dialog.get_transient_for()).toBe(parent);
    expect(dialog.get_modal()).toBeTrue();
    dialog.close();
  });

  it("checks the address as it is typed and explains what is wrong", () => {
    const dialog = new PortholeConnectDialog(parent, settings);
    dialog.present();
    const entry = named(dialog, "address", Adw.EntryRow);
    const connect = named(dialog, "connect", Gtk.Button);
    const error = named(dialog, "address-error", Gtk.Label);
    let notified = 0;
    dialog.connect("notify::address-valid", () => notified++);

    expect([connect.get_sensitive(), dialog.address_valid, error.get_visible()]).toEqual([false, false, false]);

    entry.set_text("host:70000");
    expect([connect.get_sensitive(), dialog.address_valid]).toEqual([false, false]);
    expect(error.get_visible()).toBeTrue();
    expect(error.get_label()).toContain("70000");
    expect(entry.has_css_class("error")).toBeTrue();

    entry.set_text("host:1");
    expect([connect.get_sensitive(), dialog.address_valid, error.get_visible()]).toEqual([true, true, false]);
    expect(entry.has_css_class("error")).toBeFalse();

    entry.set_text("http://host");
    expect(error.get_label()).toContain("http");
    expect(connect.get_sensitive()).toBeFalse();

    // Empty is nothing to connect to, not a mistake to point out.
    entry.set_text("   ");
    expect([connect.get_sensitive(), error.get_visible()]).toEqual([false, false]);
    expect(notified).toBe(2);
    dialog.close();
  });

  it("connects with Enter, giving the canonical URI, and closes", () => {
    const dialog = new PortholeConnectDialog(parent, settings);
    dialog.present();
    const uris: string[] = [];
    dialog.connect("connect-requested", (_d, uri: string) => uris.push(uri));
    const entry = named(dialog, "address", Adw.EntryRow);

    entry.set_text("nonsense:address:here");
    pressEnter(entry);
    expect(uris).toEqual([]);
    expect(dialog.get_visible()).toBeTrue();

    entry.set_text("alice@example.org");
    pressEnter(entry);
    expect(uris).toEqual([]);

    entry.set_text("example.org:3");
    pressEnter(entry);
    expect(uris).toEqual(["vnc://example.org:5903"]);
    expect(dialog.get_visible()).toBeFalse();
  });

  it("connects with the Connect button", () => {
    const dialog = new PortholeConnectDialog(parent, settings);
    dialog.present();
    const uris: string[] = [];
    dialog.connect("connect-requested", (_d, uri: string) => uris.push(uri));
    named(dialog, "address", Adw.EntryRow).set_text("vnc+unix:///run/vm/vnc.sock");
    named(dialog, "connect", Gtk.Button).emit("clicked");
    expect(uris).toEqual(["vnc+unix:///run/vm/vnc.sock"]);
    expect(dialog.get_visible()).toBeFalse();
  });

  it("closes with Cancel without asking to connect", () => {
    const dialog = new PortholeConnectDialog(parent, settings);
    dialog.present();
    const uris: string[] = [];
    dialog.connect("connect-requested", (_d, uri: string) => uris.push(uri));
    named(dialog, "address", Adw.EntryRow).set_text("host");
    named(dialog, "cancel", Gtk.Button).emit("clicked");
    expect(dialog.get_visible()).toBeFalse();
    expect(uris).toEqual([]);
  });

  it("lists recent connections most recent first and connects to the one activated", () => {
    for (const uri of ["vnc://a:5900", "vnc://b:5900", "vnc+unix:///tmp/a&b.sock"]) rememberConnection(settings, uri);
    const dialog = new PortholeConnectDialog(parent, settings);
    dialog.present();
    const uris: string[] = [];
    dialog.connect("connect-requested", (_d, uri: string) => uris.push(uri));

    const listed = rows(dialog);
    // The title is plain text: "&" in a socket path is not markup.
    expect(listed.map((r) => r.get_title())).toEqual(["vnc+unix:///tmp/a&b.sock", "vnc://b:5900", "vnc://a:5900"]);
    expect(dialog.recentConnections).toEqual(["vnc+unix:///tmp/a&b.sock", "vnc://b:5900", "vnc://a:5900"]);
    expect(named(dialog, "recent", Adw.PreferencesGroup).get_visible()).toBeTrue();

    listed[1]?.activate();
    expect(uris).toEqual(["vnc://b:5900"]);
    expect(dialog.get_visible()).toBeFalse();
  });

  it("removes a recent connection with its button, from the setting and the list", () => {
    for (const uri of ["vnc://a:5900", "vnc://b:5900"]) rememberConnection(settings, uri);
    const dialog = new PortholeConnectDialog(parent, settings);
    dialog.present();
    const uris: string[] = [];
    dialog.connect("connect-requested", (_d, uri: string) => uris.push(uri));

    const row = rows(dialog).find((r) => r.get_title() === "vnc://a:5900");
    const remove = row && [...descendants(row)].find((w): w is Gtk.Button => w instanceof Gtk.Button);
    if (!remove) throw new Error("the row has no remove button");
    remove.emit("clicked");
    expect(settings.get_strv("recent-connections")).toEqual(["vnc://b:5900"]);
    expect(rows(dialog).map((r) => r.get_title())).toEqual(["vnc://b:5900"]);
    expect(uris).toEqual([]);

    forgetConnection(settings, "vnc://b:5900");
    expect(rows(dialog)).toEqual([]);
    expect(named(dialog, "recent", Adw.PreferencesGroup).get_visible()).toBeFalse();
    // The list follows the setting while the dialog is open, whoever changes it.
    rememberConnection(settings, "vnc://c:5900");
    expect(dialog.recentConnections).toEqual(["vnc://c:5900"]);
    dialog.close();
  });

  for (const end of ["close", "destroy"] as const) {
    it(`stops following the setting once gone (${end})`, () => {
      const dialog = new PortholeConnectDialog(parent, settings);
      dialog.present();
      rememberConnection(settings, "vnc://a:5900");
      expect(dialog.recentConnections).toEqual(["vnc://a:5900"]);
      if (end === "close") dialog.close();
      else dialog.destroy();
      // A handler left on the settings would rebuild the list of a dead dialog here.
      rememberConnection(settings, "vnc://b:5900");
      expect(dialog.recentConnections).toEqual(["vnc://a:5900"]);
    });
  }

  it("closes with its parent", () => {
    const window = new Gtk.Window();
    window.present();
    const dialog = new PortholeConnectDialog(window, settings);
    dialog.present();
    window.close();
    expect(dialog.get_visible()).toBeFalse();
  });
});

describe("the credentials dialog", () => {
  let parent: Gtk.Window;

  beforeEach(() => {
    parent = new Gtk.Window();
    parent.present();
  });
  afterEach(() => {
    parent.destroy();
  });

  it("asks for a password only, with a peek icon, and enables Connect once one is typed", async () => {
    const dialog = new PortholeCredentialsDialog(parent, { server: "vnc://host:5900", username: false });
    expect(dialog.get_transient_for()).toBe(parent);
    expect(dialog.get_body()).toContain("vnc://host:5900");
    const answer = dialog.ask();
    expect(has(dialog, "username")).toBeFalse();
    expect(has(dialog, "failure")).toBeFalse();
    const password = named(dialog, "password", Gtk.PasswordEntry);
    expect(password.get_show_peek_icon()).toBeTrue();
    expect(dialog.get_response_enabled("connect")).toBeFalse();

    // Enter with nothing typed does not answer.
    pressEnter(password);
    expect(await settled(answer)).toBeFalse();

    password.set_text("s3cret");
    expect(dialog.get_response_enabled("connect")).toBeTrue();
    pressEnter(password);
    expect(await answer).toEqual({ password: "s3cret" });
    iterate();
    expect(dialog.get_visible()).toBeFalse();
  });

  it("asks for a user name and password for VeNCrypt Plain", async () => {
    const dialog = new PortholeCredentialsDialog(parent, {
      server: "vnc://alice@host:5900",
      username: true,
      initialUsername: "alice",
    });
    const answer = dialog.ask();
    const username = named(dialog, "username", Gtk.Entry);
    const password = named(dialog, "password", Gtk.PasswordEntry);
    expect(username.get_text()).toBe("alice");
    password.set_text("pw");
    expect(dialog.get_response_enabled("connect")).toBeTrue();
    username.set_text("");
    expect(dialog.get_response_enabled("connect")).toBeFalse();
    username.set_text("bob");
    dialog.response("connect");
    expect(await answer).toEqual({ username: "bob", password: "pw" });
  });

  it("ignores a Connect response while it is disabled", async () => {
    const dialog = new PortholeCredentialsDialog(parent, { server: "host", username: false });
    const answer = dialog.ask();
    dialog.response("connect");
    expect(await settled(answer)).toBeFalse();
    expect(dialog.get_visible()).toBeTrue();
    dialog.response("cancel");
    expect(await answer).toBeNull();
  });

  it("answers null when cancelled or closed", async () => {
    const cancelled = new PortholeCredentialsDialog(parent, { server: "host", username: false });
    const first = cancelled.ask();
    named(cancelled, "password", Gtk.PasswordEntry).set_text("typed but cancelled");
    cancelled.response("cancel");
    expect(await first).toBeNull();

    const closed = new PortholeCredentialsDialog(parent, { server: "host", username: true });
    const second = closed.ask();
    closed.close();
    expect(await second).toBeNull();
  });

  it("says why the previous password was refused", () => {
    const withReason = new PortholeCredentialsDialog(parent, {
      server: "host",
      username: false,
      failure: "Authentication failed",
    });
    expect(named(withReason, "failure", Gtk.Label).get_label()).toBe(
      "The password was not accepted: Authentication failed",
    );
    const withoutReason = new PortholeCredentialsDialog(parent, { server: "host", username: false, failure: "" });
    expect(named(withoutReason, "failure", Gtk.Label).get_label()).toBe("The password was not accepted.");
    const withoutFailure = new PortholeCredentialsDialog(parent, { server: "host", username: false, failure: null });
    expect(has(withoutFailure, "failure")).toBeFalse();
    for (const dialog of [withReason, withoutReason, withoutFailure]) {
      dialog.present();
      dialog.close();
    }
  });

  it("answers null when its parent closes", async () => {
    const window = new Gtk.Window();
    window.present();
    const dialog = new PortholeCredentialsDialog(window, { server: "host", username: false });
    const answer = dialog.ask();
    named(dialog, "password", Gtk.PasswordEntry).set_text("typed");
    window.close();
    expect(await answer).toBeNull();
  });
});

describe("the certificate dialog", () => {
  let parent: Gtk.Window;
  let pem: string;
  let fingerprint: string;
  let notAfter: GLib.DateTime;

  beforeAll(async () => {
    // A real self-signed certificate, and its fingerprint and expiry as openssl sees them.
    const dir = tempDir();
    await sh(
      `cd ${dir}
       openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=porthole.test" \\
         -keyout key.pem -out cert.pem 2>/dev/null`,
    );
    const [, data] = GLib.file_get_contents(`${dir}/cert.pem`);
    pem = new TextDecoder().decode(data);
    const out = await run(["openssl", "x509", "-in", `${dir}/cert.pem`, "-noout", "-fingerprint", "-sha256"]);
    fingerprint = (/=([0-9A-F:]+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? "").trim();
    const end = await run(["openssl", "x509", "-in", `${dir}/cert.pem`, "-noout", "-enddate", "-dateopt", "iso_8601"]);
    const date = GLib.DateTime.new_from_iso8601(
      new TextDecoder().decode(end.stdout).replace("notAfter=", "").trim(),
      null,
    ) as GLib.DateTime | null;
    if (!date) throw new Error("openssl printed no end date");
    notAfter = date;
    await sh(`rm -r ${dir}`);
  });

  beforeEach(() => {
    parent = new Gtk.Window();
    parent.present();
  });
  afterEach(() => {
    parent.destroy();
  });

  function untrusted(): TlsCertificateError {
    const certificate = Gio.TlsCertificate.new_from_pem(pem, -1);
    return new TlsCertificateError(
      {
        pem,
        sha256: fingerprint,
        subject: certificate.get_subject_name(),
        issuer: certificate.get_issuer_name(),
        flags: Gio.TlsCertificateFlags.UNKNOWN_CA,
        problems: ["it is self-signed"],
      },
      "the server's certificate is not trusted: it is self-signed",
    );
  }

  it("shows the fingerprint in readable, selectable monospace groups", () => {
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const dialog = new PortholeCertificateDialog(parent, "vnc://porthole.test:5900", untrusted());
    dialog.present();
    const label = named(dialog, "fingerprint", Gtk.Label);
    const lines = label.get_label().split("\n");
    expect(lines.length).toBe(4);
    for (const line of lines) expect(line.split(":").length).toBe(8);
    expect(lines.join(":")).toBe(fingerprint);
    expect(label.has_css_class("monospace")).toBeTrue();
    expect(label.get_selectable()).toBeTrue();
    dialog.close();
  });

  it("shows the server, why it is not trusted, subject, issuer and validity", () => {
    const dialog = new PortholeCertificateDialog(parent, "vnc://porthole.test:5900", untrusted());
    dialog.present();
    expect(dialog.get_transient_for()).toBe(parent);
    expect(named(dialog, "server", Gtk.Label).get_label()).toBe("vnc://porthole.test:5900");
    expect(dialog.get_body()).toContain("vnc://porthole.test:5900");
    expect(named(dialog, "reason", Gtk.Label).get_label()).toBe(
      "The server's certificate is not trusted: it is self-signed.",
    );
    expect(named(dialog, "subject", Gtk.Label).get_label()).toContain("CN=porthole.test");
    expect(named(dialog, "issuer", Gtk.Label).get_label()).toContain("CN=porthole.test");
    const until = notAfter.to_local()?.format("%Y-%m-%d") ?? "no date";
    expect(named(dialog, "valid-until", Gtk.Label).get_label()).toContain(until);
    expect(has(dialog, "valid-from")).toBeTrue();
    dialog.close();
  });

  it("defaults to Cancel and makes trusting a destructive choice", () => {
    const dialog = new PortholeCertificateDialog(parent, "host", untrusted());
    dialog.present();
    expect(dialog.get_default_response()).toBe("cancel");
    expect(dialog.get_close_response()).toBe("cancel");
    expect(dialog.get_response_appearance("trust")).toBe(Adw.ResponseAppearance.DESTRUCTIVE);
    expect(dialog.get_response_label("trust")).toBe("_Trust and Connect");
    dialog.close();
  });

  it("answers the PEM to pin when trusted, and null otherwise", async () => {
    const trusted = new PortholeCertificateDialog(parent, "host", untrusted());
    const pin = trusted.ask();
    trusted.response("trust");
    expect(await pin).toBe(pem);
    iterate();
    expect(trusted.get_visible()).toBeFalse();

    const cancelled = new PortholeCertificateDialog(parent, "host", untrusted());
    const none = cancelled.ask();
    cancelled.response("cancel");
    expect(await none).toBeNull();

    const closed = new PortholeCertificateDialog(parent, "host", untrusted());
    const alsoNone = closed.ask();
    closed.close();
    expect(await alsoNone).toBeNull();
  });

  it("groups any fingerprint eight bytes to a line", () => {
    expect(fingerprintLines("AA:BB")).toBe("AA:BB");
    const bytes = Array.from({ length: 20 }, (_x, i) => i.toString(16).padStart(2, "0").toUpperCase());
    expect(fingerprintLines(bytes.join(":")).split("\n")).toEqual([
      bytes.slice(0, 8).join(":"),
      bytes.slice(8, 16).join(":"),
      bytes.slice(16).join(":"),
    ]);
  });
});
