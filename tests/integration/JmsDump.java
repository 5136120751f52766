/* An independent JMS consumer for the integration tests: ActiveMQ's own client over OpenWire
 * (Debian's libactivemq-java), not msgbridge. Prints what a Java application sees of each
 * message, to compare with an expected text.
 *
 *   java JmsDump tcp://127.0.0.1:PORT QUEUE COUNT
 *
 * Per message: "type\tBytesMessage|TextMessage|...", "body\t<bytes>" (printable ASCII as is,
 * other bytes as \xNN; a TextMessage's text in UTF-8), the JMS headers that msgbridge fills
 * (JMSCorrelationID, JMSType, JMSPriority, JMSDeliveryMode, JMSRedelivered), then every
 * property sorted by name as "NAME\tJAVA-TYPE\tVALUE" (strings in UTF-8), then "--".
 * Acknowledges each message; exits 1 if COUNT messages do not arrive within 30 s each. */
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;

import javax.jms.BytesMessage;
import javax.jms.Connection;
import javax.jms.Message;
import javax.jms.MessageConsumer;
import javax.jms.Session;
import javax.jms.TextMessage;

import org.apache.activemq.ActiveMQConnectionFactory;

public class JmsDump {
    static String show(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            int c = x & 0xff;
            if (c >= 0x20 && c < 0x7f && c != '\\') {
                s.append((char) c);
            } else {
                s.append(String.format("\\x%02x", c));
            }
        }
        return s.toString();
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        ActiveMQConnectionFactory f = new ActiveMQConnectionFactory(args[0]);
        Connection c = f.createConnection();
        c.start();
        Session s = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer mc = s.createConsumer(s.createQueue(args[1]));
        int n = Integer.parseInt(args[2]);
        for (int i = 0; i < n; i++) {
            Message m = mc.receive(30000);
            if (m == null) {
                System.err.println("JmsDump: only " + i + " of " + n + " messages");
                c.close();
                System.exit(1);
            }
            String kind = m.getClass().getInterfaces().length > 0 ? "Message" : "?";
            String body;
            if (m instanceof BytesMessage) {
                kind = "BytesMessage";
                BytesMessage bm = (BytesMessage) m;
                byte[] b = new byte[(int) bm.getBodyLength()];
                bm.readBytes(b);
                body = show(b);
            } else if (m instanceof TextMessage) {
                kind = "TextMessage";
                body = ((TextMessage) m).getText();
            } else {
                body = "";
            }
            out.println("type\t" + kind);
            out.println("body\t" + body);
            out.println("JMSCorrelationID\t" + m.getJMSCorrelationID());
            out.println("JMSType\t" + m.getJMSType());
            out.println("JMSPriority\t" + m.getJMSPriority());
            out.println("JMSDeliveryMode\t" + m.getJMSDeliveryMode());
            out.println("JMSRedelivered\t" + m.getJMSRedelivered());
            List<String> names = new ArrayList<>();
            for (Enumeration<?> e = m.getPropertyNames(); e.hasMoreElements();) {
                names.add((String) e.nextElement());
            }
            Collections.sort(names);
            for (String name : names) {
                Object v = m.getObjectProperty(name);
                out.println(name + "\t" + (v == null ? "null" : v.getClass().getSimpleName())
                            + "\t" + v);
            }
            out.println("--");
            m.acknowledge();
        }
        c.close();
    }
}
