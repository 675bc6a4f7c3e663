/*
 * Local stand-in for the Firebase Storage emulator's "rules runtime" (the jar firebase-tools would
 * download, which is not obtainable offline). firebase-tools starts it as
 * `java -jar <STORAGE_EMULATOR_BINARY_PATH> serve` and talks JSON lines over stdin/stdout:
 *
 *   start:          {"id":-1,"status":"ok"}
 *   each request:   {"id":<same id>,"status":"ok","errors":[],"warnings":[],"result":R}
 *                   R = {"rulesVersion":2} for "load_ruleset", {"permit":true} for "verify".
 *
 * It ALWAYS PERMITS: storage.rules are not evaluated locally. That is harmless for ferry because
 * GCS JSON API calls (@google-cloud/storage) never consult Firebase rules, locally or in the cloud.
 *
 * Built at set-up by infra/local/emulators.ts with javac into the cache (no dependencies).
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public final class RulesRuntime {
  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    emit(out, "{\"id\":-1,\"status\":\"ok\"}");
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      String[] keys = topLevel(line);
      String id = keys[0];
      String action = keys[1];
      if (id == null) continue; // nothing we can answer
      String result;
      if ("load_ruleset".equals(action)) result = "{\"rulesVersion\":2}";
      else if ("verify".equals(action)) result = "{\"permit\":true}";
      else result = "{}";
      emit(out, "{\"id\":" + id + ",\"status\":\"ok\",\"errors\":[],\"warnings\":[],\"result\":" + result + "}");
    }
  }

  private static void emit(PrintStream out, String s) {
    out.print(s);
    out.print('\n');
    out.flush();
  }

  /** Returns {id (raw number text), action} read from the top-level object of one JSON line. */
  static String[] topLevel(String s) {
    String id = null, action = null;
    int depth = 0;
    int i = 0, n = s.length();
    while (i < n) {
      char c = s.charAt(i);
      if (c == '"') {
        int end = stringEnd(s, i);
        String str = s.substring(i + 1, end);
        i = end + 1;
        if (depth == 1) {
          int j = skipWs(s, i);
          if (j < n && s.charAt(j) == ':') { // it was a key
            j = skipWs(s, j + 1);
            if (str.equals("id")) {
              int k = j;
              while (k < n && "-0123456789".indexOf(s.charAt(k)) >= 0) k++;
              if (k > j) id = s.substring(j, k);
            } else if (str.equals("action") && j < n && s.charAt(j) == '"') {
              int e = stringEnd(s, j);
              action = s.substring(j + 1, e);
            }
            i = j;
          }
        }
        continue;
      }
      if (c == '{' || c == '[') depth++;
      else if (c == '}' || c == ']') depth--;
      i++;
    }
    return new String[] {id, action};
  }

  private static int stringEnd(String s, int open) {
    int i = open + 1;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '\\') i += 2;
      else if (c == '"') return i;
      else i++;
    }
    return s.length() - 1;
  }

  private static int skipWs(String s, int i) {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    return i;
  }
}
