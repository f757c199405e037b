// JSSE with SunPKCS11 as the first provider (as a FIPS-style configuration puts it): the TLS 1.2
// key schedule then runs in the token (SunPKCS11 offers SunTls12MasterSecret, SunTls12KeyMaterial
// and SunTls12Prf when the token has CKM_TLS12_MASTER_KEY_DERIVE(_DH),
// CKM_TLS12_KEY_AND_MAC_DERIVE and CKM_TLS_MAC; RFC 7627's extended master secret is turned off,
// JDK 17's SunPKCS11 having no generator for it). The server's key is the keytool entry "tls";
// the client is `openssl s_client`, an independent TLS stack, so a wrong master secret, key
// block or Finished MAC fails the handshake. Run once per cipher suite: ECDHE-ECDSA with the
// SHA-256 and SHA-384 PRFs (the "tls" EC key), and RSA key exchange (the "tls-rsa" key); and
// TLS 1.3 (whose HKDF JDK 17 makes with HMAC, in the token too: the ECDHE secret stays a
// token key).
// Usage: JsseTokenFirst <pkcs11 config file> <pin> [ems].
import java.io.*;
import java.net.*;
import java.security.*;
import javax.crypto.*;
import javax.net.ssl.*;

public class JsseTokenFirst {
    static void check(boolean ok, String what) {
        if (!ok) throw new IllegalStateException("FAILED: " + what);
        System.out.println("ok: " + what);
    }

    // JSSE as the client, the token first, against openssl s_server with an RSA certificate:
    // RSA key exchange (the pre-master secret made by CKM_TLS_PRE_MASTER_KEY_GEN and wrapped to
    // the server's key: the configuration makes generated generic secrets extractable, see
    // README), ECDHE-RSA, and TLS 1.3.
    static void client() throws Exception {
        Process req = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                "srv.key", "-out", "srv.pem", "-subj", "/CN=localhost", "-days", "2")
                .redirectErrorStream(true)
                .start();
        req.getInputStream().readAllBytes();
        check(req.waitFor() == 0, "openssl made the server's certificate");
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Process server = new ProcessBuilder("openssl", "s_server", "-accept", String.valueOf(port), "-key", "srv.key",
                "-cert", "srv.pem", "-www")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            for (int i = 0; ; i++) {
                try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    break;
                } catch (IOException e) {
                    if (i == 100) throw e;
                    Thread.sleep(100);
                }
            }
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            try (InputStream in = new FileInputStream("srv.pem")) {
                trust.setCertificateEntry("srv", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            String[][] runs = {
                {"TLSv1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"},
                {"TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
                {"TLSv1.3", "TLS_AES_128_GCM_SHA256"},
            };
            for (String[] run : runs) {
                try (SSLSocket c = (SSLSocket) ctx.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), port)) {
                    c.setEnabledProtocols(new String[] {run[0]});
                    c.setEnabledCipherSuites(new String[] {run[1]});
                    OutputStream out = c.getOutputStream();
                    out.write("GET / HTTP/1.0\r\n\r\n".getBytes("UTF-8"));
                    out.flush();
                    String status = new BufferedReader(new InputStreamReader(c.getInputStream(), "UTF-8")).readLine();
                    String got = c.getSession().getProtocol() + " " + c.getSession().getCipherSuite();
                    System.out.println("client " + got + ": " + status);
                    check(status != null && status.startsWith("HTTP/1.0 200") && got.equals(run[0] + " " + run[1]),
                            "JSSE client to openssl s_server, " + run[0] + " " + run[1]);
                }
            }
        } finally {
            server.destroy();
            server.waitFor();
        }
    }

    public static void main(String[] args) throws Exception {
        // JDK 17's SunPKCS11 has no extended master secret (RFC 7627) generator: with it (the
        // JDK's default, kept when a third argument says "ems") SunJCE makes the master
        // secret, and the token only the key block and the MACs; without it, the token all.
        if (args.length < 3 || !args[2].equals("ems")) {
            System.setProperty("jdk.tls.useExtendedMasterSecret", "false");
        }
        // RSA key exchange (the premaster secret decrypted into the token, its version given
        // back by CKM_TLS12_MASTER_KEY_DERIVE) is off in recent JDK 17 builds: allowed here.
        String disabled = Security.getProperty("jdk.tls.disabledAlgorithms");
        Security.setProperty("jdk.tls.disabledAlgorithms", disabled.replaceAll("TLS_RSA_\\*\\s*,?", ""));
        Provider p = Security.getProvider("SunPKCS11").configure(args[0]);
        Security.insertProviderAt(p, 1);
        char[] pin = args[1].toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, pin);
        for (String alg : new String[] {"SunTls12MasterSecret", "SunTls12KeyMaterial", "SunTls12Prf", "SunTls12RsaPremasterSecret"}) {
            check(KeyGenerator.getInstance(alg).getProvider() == p, alg + " is the token's");
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, pin);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);
        String[][] runs = {
            {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"},
            {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"},
            {"-tls1_2", "-cipher", "AES128-GCM-SHA256"},
            {"-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"},
            {"-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"},
        };
        for (String[] run : runs) {
            String suite = run[2];
            try (SSLServerSocket server =
                    (SSLServerSocket) ctx.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                Thread t = new Thread(() -> {
                    try (SSLSocket s = (SSLSocket) server.accept()) {
                        BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), "UTF-8"));
                        PrintWriter out = new PrintWriter(new OutputStreamWriter(s.getOutputStream(), "UTF-8"), true);
                        out.println("echo: " + in.readLine() + " over " + s.getSession().getProtocol() + " "
                                + s.getSession().getCipherSuite());
                    } catch (IOException e) {
                        e.printStackTrace();
                    }
                });
                t.start();
                Process c = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + server.getLocalPort(),
                        run[0], run[1], suite, "-quiet", "-ign_eof")
                        .redirectError(ProcessBuilder.Redirect.INHERIT)
                        .start();
                try (Writer w = new OutputStreamWriter(c.getOutputStream(), "UTF-8")) {
                    w.write("hello\n");
                }
                String reply = new BufferedReader(new InputStreamReader(c.getInputStream(), "UTF-8")).readLine();
                c.waitFor();
                t.join();
                System.out.println(suite + ": " + reply);
                String protocol = run[0].equals("-tls1_2") ? "TLSv1.2" : "TLSv1.3";
                check(reply != null && reply.startsWith("echo: hello over " + protocol + " TLS_"),
                        protocol + " with openssl s_client, " + suite);
            }
        }
        client();
        System.out.println("ALL OK");
    }
}
