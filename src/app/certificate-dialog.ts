// Asks whether to trust a VeNCrypt X509 server certificate that failed verification
// (self-signed, unknown CA, wrong name, expired…). Trusting pins exactly this certificate
// (TlsOptions.pinned), so the dialog shows what the user needs to compare it with what the
// server’s administrator gave them: above all the SHA-256 fingerprint. Cancel is the
// default: Enter or Escape must never trust a certificate.

import Adw from "gi://Adw";
import Gio from "gi://Gio";
import GLib from "gi://GLib";
import GObject from "gi://GObject";
import Gtk from "gi://Gtk?version=4.0";
import Pango from "gi://Pango";

import { _ } from "../platform/i18n.js";
import type { TlsCertificateError } from "../platform/transport.js";
import { closeWithParent } from "./connect-dialog.js";
import { fill } from "./options.js";

/** Bytes per line of the fingerprint: 32 bytes make four lines short enough to read aloud. */
const FINGERPRINT_BYTES_PER_LINE = 8;

/** "AB:CD:…" as lines of eight bytes; joining the lines with ":" gives the input back. */
export function fingerprintLines(sha256: string): string {
  const bytes = sha256.split(":");
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += FINGERPRINT_BYTES_PER_LINE)
    lines.push(bytes.slice(i, i + FINGERPRINT_BYTES_PER_LINE).join(":"));
  return lines.join("\n");
}

/** The validity period, read from the PEM: ServerCertificate does not carry it. */
function validity(pem: string): { from: GLib.DateTime | null; until: GLib.DateTime | null } {
  try {
    const certificate = Gio.TlsCertificate.new_from_pem(pem, -1);
    return { from: certificate.get_not_valid_before(), until: certificate.get_not_valid_after() };
  } catch {
    // Only informative: a PEM GLib cannot parse still has a fingerprint to compare.
    return { from: null, until: null };
  }
}

// ISO order with the zone: unambiguous whatever the locale, which matters when the user
// compares it with what an administrator read out.
function formatDate(date: GLib.DateTime): string {
  return date.to_local()?.format("%Y-%m-%d %H:%M:%S %Z") ?? "";
}

/** "the server's certificate is not trusted: …" as a sentence. */
function sentence(message: string): string {
  const text = message.trim();
  if (text === "") return text;
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;
}

export class PortholeCertificateDialog extends Adw.MessageDialog {
  static {
    GObject.registerClass({ GTypeName: "PortholeCertificateDialog" }, this);
  }

  readonly #pem: string;
  readonly #result: Promise<string | null>;
  #settle: ((pem: string | null) => void) | null = null;

  constructor(parent: Gtk.Window, server: string, error: TlsCertificateError) {
    super({
      transient_for: parent,
      modal: true,
      heading: _("Untrusted Certificate"),
      body: fill(
        _(
          // Translators: {server} is an address such as vnc://host:5901; keep the braces.
          "Porthole cannot verify that it is connected to {server}: someone may be intercepting the connection. Trust this certificate only if its fingerprint is the one the server’s administrator gave you.",
        ),
        { server },
      ),
    });
    const certificate = error.certificate;
    this.#pem = certificate.pem;
    closeWithParent(this, parent);
    this.add_response("cancel", _("_Cancel"));
    this.add_response("trust", _("_Trust and Connect"));
    this.set_response_appearance("trust", Adw.ResponseAppearance.DESTRUCTIVE);
    this.set_default_response("cancel");
    this.set_close_response("cancel");

    const box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL, spacing: 12 });
    box.append(
      new Gtk.Label({
        name: "reason",
        label: sentence(error.message),
        wrap: true,
        xalign: 0,
        css_classes: ["error"],
      }),
    );

    // Each title above its value: a message dialog is too narrow for two columns.
    const details = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL, spacing: 2 });
    const addField = (name: string, title: string, value: string, monospace = false) => {
      details.append(
        new Gtk.Label({ label: title, xalign: 0, margin_top: 8, css_classes: ["caption-heading", "dim-label"] }),
      );
      details.append(
        new Gtk.Label({
          name,
          label: value,
          xalign: 0,
          selectable: true,
          // The fingerprint is laid out in lines already; names and DNs have few spaces.
          wrap: !monospace,
          wrap_mode: Pango.WrapMode.WORD_CHAR,
          css_classes: monospace ? ["monospace"] : [],
        }),
      );
    };
    addField("server", _("Server"), server);
    if (certificate.subject !== null) addField("subject", _("Subject"), certificate.subject);
    if (certificate.issuer !== null) addField("issuer", _("Issuer"), certificate.issuer);
    const { from, until } = validity(certificate.pem);
    if (from !== null) addField("valid-from", _("Valid From"), formatDate(from));
    if (until !== null) addField("valid-until", _("Valid Until"), formatDate(until));
    addField("fingerprint", _("SHA-256 Fingerprint"), fingerprintLines(certificate.sha256), true);
    box.append(details);
    this.set_extra_child(box);

    this.#result = new Promise((resolve) => {
      this.#settle = resolve;
    });
    this.connect("response", (_dialog, response: string) => {
      const settle = this.#settle;
      if (settle === null) return;
      this.#settle = null;
      settle(response === "trust" ? this.#pem : null);
      this.close();
    });
  }

  /** Shows the dialog; resolves with the certificate’s PEM to pin, or null to not connect. */
  ask(): Promise<string | null> {
    this.present();
    return this.#result;
  }
}
