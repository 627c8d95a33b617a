// Test certificates made by openssl at test time, never committed.

import GLib from "gi://GLib";

import { run } from "./processes.js";

export async function sh(script: string): Promise<void> {
  const r = await run(["sh", "-ec", script]);
  if (r.status !== 0) throw new Error(`${script.split("\n")[0] ?? ""}… failed: ${r.stderr}`);
}

/** A CA (ca.pem) and, signed by it, certificates for `names` (SAN entries) as NAME.pem/NAME.key. */
export async function makeCertificates(dir: string, ca: string, servers: Record<string, string>): Promise<void> {
  await sh(
    `cd ${dir}
     openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Porthole test CA ${ca}" \\
       -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \\
       -keyout ${ca}.key -out ${ca}.pem 2>/dev/null`,
  );
  for (const [name, san] of Object.entries(servers)) {
    GLib.file_set_contents(
      `${dir}/${name}.ext`,
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
    );
    await sh(
      `cd ${dir}
       openssl req -newkey rsa:2048 -nodes -subj "/CN=${name}" -keyout ${name}.key -out ${name}.csr 2>/dev/null
       openssl x509 -req -in ${name}.csr -CA ${ca}.pem -CAkey ${ca}.key -CAcreateserial -days 2 \\
         -extfile ${name}.ext -out ${name}.pem 2>/dev/null`,
    );
  }
}
