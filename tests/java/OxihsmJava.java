// Drives liboxihsm.so through Java 17's SunPKCS11 provider: KeyStore listing, RSA and EC key
// pairs (P-256, P-384, P-521) generated in the token with signatures (PKCS#1 v1.5, RSASSA-PSS,
// ECDSA in DER and P1363 form) checked by the JDK's software providers, PKCS#1 v1.5
// decryption, a secret key stored as a KeyStore entry,
// AES/GCM with a token key, ChaCha20-Poly1305 (checked against SunJCE), ECDH between token keys,
// HMAC-SHA256/512, AES, DES and Triple DES with keys handed in from software, SHA3-256, imported RSA keys (PKCS#8
// and modulus with private exponent),
// raw RSA decryption, and a JSSE TLS server whose private key stays in the token, reached by a
// client. Usage: OxihsmJava <pkcs11 config file> <pin>.
import java.io.*;
import java.net.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.*;
import java.util.*;
import javax.crypto.*;
import javax.crypto.spec.*;
import javax.net.ssl.*;

public class OxihsmJava {
    static void check(boolean ok, String what) {
        if (!ok) throw new IllegalStateException("FAILED: " + what);
        System.out.println("ok: " + what);
    }

    public static void main(String[] args) throws Exception {
        Provider p = Security.getProvider("SunPKCS11").configure(args[0]);
        Security.addProvider(p);
        char[] pin = args[1].toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS11", p);
        ks.load(null, pin);
        List<String> aliases = Collections.list(ks.aliases());
        System.out.println("aliases: " + aliases);
        check(aliases.contains("tls"), "KeyStore lists the keytool entry");
        byte[] msg = "signed inside oxihsm, checked by the JDK".getBytes("UTF-8");

        KeyPairGenerator rsaGen = KeyPairGenerator.getInstance("RSA", p);
        rsaGen.initialize(2048);
        KeyPair rsa = rsaGen.generateKeyPair();
        Signature sign = Signature.getInstance("SHA256withRSA", p);
        sign.initSign(rsa.getPrivate());
        sign.update(msg);
        byte[] sig = sign.sign();
        PublicKey rsaPub = KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(rsa.getPublic().getEncoded()));
        Signature verify = Signature.getInstance("SHA256withRSA", "SunRsaSign");
        verify.initVerify(rsaPub);
        verify.update(msg);
        check(verify.verify(sig), "RSA-2048 SHA256withRSA made in the token verifies in SunRsaSign");

        KeyPairGenerator ecGen = KeyPairGenerator.getInstance("EC", p);
        ecGen.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair ec = ecGen.generateKeyPair();
        sign = Signature.getInstance("SHA256withECDSA", p);
        sign.initSign(ec.getPrivate());
        sign.update(msg);
        sig = sign.sign();
        PublicKey ecPub = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(ec.getPublic().getEncoded()));
        verify = Signature.getInstance("SHA256withECDSA", "SunEC");
        verify.initVerify(ecPub);
        verify.update(msg);
        check(verify.verify(sig), "P-256 SHA256withECDSA made in the token verifies in SunEC");

        // RSASSA-PSS and PKCS#1 v1.5 decryption with the token's RSA key.
        PSSParameterSpec pss = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1);
        sign = Signature.getInstance("RSASSA-PSS", p);
        sign.setParameter(pss);
        sign.initSign(rsa.getPrivate());
        sign.update(msg);
        sig = sign.sign();
        verify = Signature.getInstance("RSASSA-PSS", "SunRsaSign");
        verify.setParameter(pss);
        verify.initVerify(rsaPub);
        verify.update(msg);
        check(verify.verify(sig), "RSASSA-PSS (SHA-256, 32-byte salt) made in the token verifies in SunRsaSign");
        Cipher pkcs1 = Cipher.getInstance("RSA/ECB/PKCS1Padding", "SunJCE");
        pkcs1.init(Cipher.ENCRYPT_MODE, rsaPub);
        byte[] wrappedMsg = pkcs1.doFinal(msg);
        pkcs1 = Cipher.getInstance("RSA/ECB/PKCS1Padding", p);
        pkcs1.init(Cipher.DECRYPT_MODE, rsa.getPrivate());
        check(Arrays.equals(pkcs1.doFinal(wrappedMsg), msg), "RSA/ECB/PKCS1Padding: SunJCE encrypts, the token decrypts");

        // P-384 and P-521, the latter's signature in IEEE P1363 form.
        for (String[] c : new String[][] {{"secp384r1", "SHA384withECDSA"}, {"secp521r1", "SHA512withECDSAinP1363Format"}}) {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC", p);
            g.initialize(new ECGenParameterSpec(c[0]));
            KeyPair k = g.generateKeyPair();
            sign = Signature.getInstance(c[1], p);
            sign.initSign(k.getPrivate());
            sign.update(msg);
            sig = sign.sign();
            verify = Signature.getInstance(c[1], "SunEC");
            verify.initVerify(KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(k.getPublic().getEncoded())));
            verify.update(msg);
            check(verify.verify(sig), c[0] + " " + c[1] + " made in the token verifies in SunEC");
        }

        KeyGenerator aesGen = KeyGenerator.getInstance("AES", p);
        aesGen.init(256);
        SecretKey aes = aesGen.generateKey();
        byte[] iv = new byte[12];
        new SecureRandom().nextBytes(iv);
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding", p);
        gcm.init(Cipher.ENCRYPT_MODE, aes, new GCMParameterSpec(128, iv));
        gcm.updateAAD("header".getBytes("UTF-8"));
        byte[] ct = gcm.doFinal(msg);
        check(ct.length == msg.length + 16, "AES/GCM ciphertext carries a 128-bit tag");
        gcm.init(Cipher.DECRYPT_MODE, aes, new GCMParameterSpec(128, iv));
        gcm.updateAAD("header".getBytes("UTF-8"));
        check(Arrays.equals(gcm.doFinal(ct), msg), "AES/GCM round trip with a token key");
        ct[0] ^= 1;
        gcm.init(Cipher.DECRYPT_MODE, aes, new GCMParameterSpec(128, iv));
        gcm.updateAAD("header".getBytes("UTF-8"));
        boolean refused = false;
        try {
            gcm.doFinal(ct);
        } catch (GeneralSecurityException e) {
            refused = true;
        }
        check(refused, "a tampered GCM ciphertext is refused");

        // ChaCha20-Poly1305: a key generated in the token, and a known key handed to the
        // token, whose ciphertext must be SunJCE's.
        SecretKey cc = KeyGenerator.getInstance("ChaCha20", p).generateKey();
        byte[] nonce = new byte[12];
        new SecureRandom().nextBytes(nonce);
        Cipher ccp = Cipher.getInstance("ChaCha20-Poly1305", p);
        ccp.init(Cipher.ENCRYPT_MODE, cc, new IvParameterSpec(nonce));
        ccp.updateAAD("header".getBytes("UTF-8"));
        ct = ccp.doFinal(msg);
        ccp.init(Cipher.DECRYPT_MODE, cc, new IvParameterSpec(nonce));
        ccp.updateAAD("header".getBytes("UTF-8"));
        check(Arrays.equals(ccp.doFinal(ct), msg), "ChaCha20-Poly1305 round trip with a token key");
        byte[] raw = new byte[32];
        new SecureRandom().nextBytes(raw);
        nonce[0] ^= 1;
        SecretKeySpec known = new SecretKeySpec(raw, "ChaCha20");
        ccp.init(Cipher.ENCRYPT_MODE, known, new IvParameterSpec(nonce));
        ccp.updateAAD("header".getBytes("UTF-8"));
        byte[] ours = ccp.doFinal(msg);
        Cipher jce = Cipher.getInstance("ChaCha20-Poly1305", "SunJCE");
        jce.init(Cipher.ENCRYPT_MODE, known, new IvParameterSpec(nonce));
        jce.updateAAD("header".getBytes("UTF-8"));
        check(Arrays.equals(ours, jce.doFinal(msg)), "ChaCha20-Poly1305 in the token matches SunJCE");

        KeyPair ec2 = ecGen.generateKeyPair();
        KeyAgreement ka = KeyAgreement.getInstance("ECDH", p);
        ka.init(ec.getPrivate());
        ka.doPhase(ec2.getPublic(), true);
        byte[] s1 = ka.generateSecret();
        ka.init(ec2.getPrivate());
        ka.doPhase(ec.getPublic(), true);
        byte[] s2 = ka.generateSecret();
        check(s1.length == 32 && Arrays.equals(s1, s2), "ECDH between two token keys agrees");

        // Keys handed in from software (SunPKCS11 makes token session objects of them), each
        // service's output checked against the JDK's own providers.
        ks.load(null, pin);
        SecureRandom rnd = new SecureRandom();
        byte[] hk = new byte[32];
        rnd.nextBytes(hk);
        Mac mac = Mac.getInstance("HmacSHA256", p);
        mac.init(new SecretKeySpec(hk, "HmacSHA256"));
        Mac jmac = Mac.getInstance("HmacSHA256", "SunJCE");
        jmac.init(new SecretKeySpec(hk, "HmacSHA256"));
        check(Arrays.equals(mac.doFinal(msg), jmac.doFinal(msg)), "HmacSHA256 matches SunJCE");
        mac = Mac.getInstance("HmacSHA512", p);
        mac.init(new SecretKeySpec(hk, "HmacSHA512"));
        jmac = Mac.getInstance("HmacSHA512", "SunJCE");
        jmac.init(new SecretKeySpec(hk, "HmacSHA512"));
        check(Arrays.equals(mac.doFinal(msg), jmac.doFinal(msg)), "HmacSHA512 matches SunJCE");
        for (String[] c : new String[][] {
                {"AES/CBC/PKCS5Padding", "AES", "16"}, {"AES/CTR/NoPadding", "AES", "32"},
                {"DESede/CBC/PKCS5Padding", "DESede", "24"}, {"DES/CBC/PKCS5Padding", "DES", "8"}}) {
            byte[] k = new byte[Integer.parseInt(c[2])];
            rnd.nextBytes(k);
            SecretKeySpec spec = new SecretKeySpec(k, c[1]);
            Cipher ours2 = Cipher.getInstance(c[0], p);
            ours2.init(Cipher.ENCRYPT_MODE, spec);
            byte[] sealed = ours2.doFinal(msg);
            Cipher theirs = Cipher.getInstance(c[0], "SunJCE");
            theirs.init(Cipher.DECRYPT_MODE, spec, ours2.getParameters());
            check(Arrays.equals(theirs.doFinal(sealed), msg), c[0] + " in the token, decrypted by SunJCE");
        }
        check(Arrays.equals(MessageDigest.getInstance("SHA3-256", p).digest(msg), MessageDigest.getInstance("SHA3-256").digest(msg)),
              "SHA3-256 matches the JDK's");
        KeyPairGenerator soft = KeyPairGenerator.getInstance("RSA");
        soft.initialize(2048);
        KeyPair softRsa = soft.generateKeyPair();
        PrivateKey imported = (PrivateKey) KeyFactory.getInstance("RSA", p)
            .generatePrivate(new PKCS8EncodedKeySpec(softRsa.getPrivate().getEncoded()));
        sign = Signature.getInstance("SHA256withRSA", p);
        sign.initSign(imported);
        sign.update(msg);
        verify = Signature.getInstance("SHA256withRSA", "SunRsaSign");
        verify.initVerify(softRsa.getPublic());
        verify.update(msg);
        check(verify.verify(sign.sign()), "an imported RSA key signs in the token");
        // An RSAPrivateKeySpec (modulus and private exponent only) is imported without a
        // public exponent: the token finds it.
        java.security.interfaces.RSAPrivateKey softPriv = (java.security.interfaces.RSAPrivateKey) softRsa.getPrivate();
        PrivateKey bare = KeyFactory.getInstance("RSA", p)
            .generatePrivate(new RSAPrivateKeySpec(softPriv.getModulus(), softPriv.getPrivateExponent()));
        sign.initSign(bare);
        sign.update(msg);
        verify.initVerify(softRsa.getPublic());
        verify.update(msg);
        check(verify.verify(sign.sign()), "an RSA key imported from its modulus and private exponent signs in the token");
        // Raw RSA (CKM_RSA_X_509) decryption, the block 00..01 included.
        for (int last : new int[] {1, 42}) {
            byte[] block = new byte[256];
            block[255] = (byte) last;
            Cipher enc = Cipher.getInstance("RSA/ECB/NoPadding", "SunJCE");
            enc.init(Cipher.ENCRYPT_MODE, rsaPub);
            Cipher dec = Cipher.getInstance("RSA/ECB/NoPadding", p);
            dec.init(Cipher.DECRYPT_MODE, rsa.getPrivate());
            check(Arrays.equals(dec.doFinal(enc.doFinal(block)), block), "RSA/ECB/NoPadding decrypts 00.." + last);
        }

        // A secret key stored as a KeyStore entry (a token object): there after a reload,
        // gone after its deletion.
        KeyGenerator entryGen = KeyGenerator.getInstance("AES", p);
        entryGen.init(128);
        ks.setKeyEntry("java-aes", entryGen.generateKey(), null, null);
        ks.load(null, pin);
        Key entry = ks.getKey("java-aes", null);
        check(entry != null && "AES".equals(entry.getAlgorithm()), "an AES key stored as a KeyStore entry is found after a reload");
        ks.deleteEntry("java-aes");
        ks.load(null, pin);
        check(!ks.containsAlias("java-aes"), "the KeyStore entry is gone once deleted");

        // JSSE: the server's key is the keytool entry in the token.
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, pin);
        SSLContext serverCtx = SSLContext.getInstance("TLS");
        serverCtx.init(kmf.getKeyManagers(), null, null);
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        for (String alias : aliases) {
            if (ks.getCertificate(alias) != null) {
                trust.setCertificateEntry(alias, ks.getCertificate(alias));
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(trust);
        SSLContext clientCtx = SSLContext.getInstance("TLS");
        clientCtx.init(null, tmf.getTrustManagers(), null);
        try (SSLServerSocket server = (SSLServerSocket) serverCtx.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (SSLSocket s = (SSLSocket) server.accept()) {
                    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), "UTF-8"));
                    PrintWriter out = new PrintWriter(new OutputStreamWriter(s.getOutputStream(), "UTF-8"), true);
                    out.println("echo: " + in.readLine());
                } catch (IOException e) {
                    e.printStackTrace();
                }
            });
            t.start();
            try (SSLSocket c = (SSLSocket) clientCtx.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
                c.startHandshake();
                PrintWriter out = new PrintWriter(new OutputStreamWriter(c.getOutputStream(), "UTF-8"), true);
                BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), "UTF-8"));
                out.println("hello over TLS");
                String reply = in.readLine();
                System.out.println("TLS " + c.getSession().getProtocol() + " " + c.getSession().getCipherSuite());
                check("echo: hello over TLS".equals(reply), "JSSE TLS server with its key in the token");
            }
            t.join();
        }
        System.out.println("ALL OK");
    }
}
