package org.rfim4j.io;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.InvalidNullException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import java.util.Collection;
import java.util.Iterator;
import java.util.Map;

/**
 * Jackson's errors as short messages that name the JSON path ({@code model.hidden[2]}) and the problem in
 * words, without Java class or exception names; and a check that every number of a tree is finite.
 */
public final class JsonErrors {
  private JsonErrors() {}

  /**
   * {@code s} with control characters escaped (a newline as backslash-n, others as backslash-u and four hex digits): text from a file
   * (a JSON key, a name) quoted in a message keeps the message on one line.
   */
  public static String printable(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f || c == 0x2028 || c == 0x2029 || c == 0x85) {
        if (b == null) {
          b = new StringBuilder(s.substring(0, i));
        }
        b.append(switch (c) {
          case '\n' -> "\\n";
          case '\r' -> "\\r";
          case '\t' -> "\\t";
          default -> String.format("\\u%04x", (int) c);
        });
      } else if (b != null) {
        b.append(c);
      }
    }
    return b == null ? s : b.toString();
  }

  /** The path of the value an error is about, e.g. {@code curve[1].valLoss}; empty for the document itself. */
  public static String path(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        sb.append(sb.length() == 0 ? "" : ".").append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.toString();
  }

  /** What a Jackson error is about: the JSON path ("" for the document) and the problem in words. */
  public record Problem(String path, String text) {
    @Override
    public String toString() {
      return (path.isEmpty() ? "" : "'" + path + "' ") + text;
    }
  }

  /** A one-line description: "'path' problem", or "not valid JSON: ..." for syntax errors. */
  public static String describe(JsonProcessingException e) {
    return problem(e).toString();
  }

  /** The path and the problem of a Jackson error, in words without Java class or exception names. */
  public static Problem problem(JsonProcessingException e) {
    String original = e.getOriginalMessage() == null ? "" : e.getOriginalMessage();
    if (original.startsWith("Trailing token")) {
      return new Problem("", "text after the JSON object" + where(e));
    }
    if (e instanceof JsonParseException || !(e instanceof JsonMappingException)) {
      return new Problem("", "not valid JSON: " + clean(original) + where(e));
    }
    JsonMappingException m = (JsonMappingException) e;
    String path = path(m);
    if (m.getCause() instanceof JsonProcessingException syntax && !(syntax instanceof JsonMappingException)) {
      return new Problem(path, "not valid JSON: " + clean(syntax.getOriginalMessage()) + where(syntax));
    }
    if (e instanceof UnrecognizedPropertyException u) {
      return new Problem(path.isEmpty() ? u.getPropertyName() : path, "is not a known field");
    }
    if (e instanceof InvalidNullException n) {
      return new Problem(path, "is null, expected " + kind(n.getTargetType()));
    }
    if (e instanceof InvalidFormatException f) {
      return new Problem(path, "must be " + kind(f.getTargetType()) + ", got " + shortValue(f.getValue()));
    }
    if (e instanceof MismatchedInputException mi) {
      if (mi.getTargetType() == null) {
        return new Problem(path, clean(original));
      }
      String got = mi.getProcessor() instanceof JsonParser p && p.currentToken() != null
          ? tokenName(p.currentToken()) : "something else";
      Class<?> t = mi.getTargetType();
      if (got.equals("null") && t.isArray() && t.getComponentType().isPrimitive() && path.endsWith("]")) {
        return new Problem(path, "must be a number, got null"); // an element of a primitive array
      }
      return new Problem(path, "must be " + kind(t) + ", got " + got);
    }
    if (e instanceof ValueInstantiationException) {
      Throwable c = e.getCause();
      return new Problem(path, c != null && c.getMessage() != null ? firstLine(c.getMessage()) : "is invalid");
    }
    return new Problem(path, clean(original));
  }

  private static String where(JsonProcessingException e) {
    return e.getLocation() == null || e.getLocation().getLineNr() < 0 ? ""
        : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
  }

  /** Jackson's message without source descriptions, Java names in backquotes and hints for Java callers. */
  static String clean(String m) {
    String s = firstLine(m);
    s = s.replaceAll("\\s*\\(?start marker at \\[Source:.*$", "")
        .replaceAll("\\s*at \\[Source:.*$", "")
        .replaceAll("\\[Source:[^\\]]*\\]", "")
        .replaceAll(", from `[^`]*`", "")
        .replaceAll("\\(for [^)]*\\)", "")
        .replace("`", "")
        .replaceAll("\\s+", " ").trim();
    return s.isEmpty() ? "parse error" : s;
  }

  /** The path of the first number in {@code node} that is not finite (such as 1e999), or null. */
  public static String firstNonFinite(JsonNode node, String path) {
    if (node == null) {
      return null;
    }
    if (node.isNumber()) {
      return Double.isFinite(node.doubleValue()) ? null : path;
    }
    if (node.isArray()) {
      for (int i = 0; i < node.size(); i++) {
        String p = firstNonFinite(node.get(i), path + "[" + i + "]");
        if (p != null) {
          return p;
        }
      }
    } else if (node.isObject()) {
      Iterator<Map.Entry<String, JsonNode>> it = node.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> f = it.next();
        String p = firstNonFinite(f.getValue(), path.isEmpty() ? f.getKey() : path + "." + f.getKey());
        if (p != null) {
          return p;
        }
      }
    }
    return null;
  }

  private static String kind(Class<?> t) {
    if (t == null) {
      return "a value";
    }
    if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
      return "an integer";
    }
    if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
      return "a number";
    }
    if (t == boolean.class || t == Boolean.class) {
      return "true or false";
    }
    if (t == String.class || t.isEnum()) {
      return t.isEnum() ? "one of " + java.util.Arrays.toString(t.getEnumConstants()) : "a string";
    }
    if (t.isArray() || Collection.class.isAssignableFrom(t)) {
      return "an array";
    }
    return "an object";
  }

  private static String tokenName(com.fasterxml.jackson.core.JsonToken t) {
    switch (t) {
      case START_ARRAY:
        return "an array";
      case START_OBJECT:
        return "an object";
      case VALUE_STRING:
        return "a string";
      case VALUE_NUMBER_INT:
        return "an integer";
      case VALUE_NUMBER_FLOAT:
        return "a number";
      case VALUE_TRUE:
      case VALUE_FALSE:
        return "a boolean";
      case VALUE_NULL:
        return "null";
      default:
        return "something else";
    }
  }

  private static String shortValue(Object v) {
    String s = String.valueOf(v);
    return s.length() > 40 ? "'" + s.substring(0, 40) + "...'" : "'" + s + "'";
  }

  private static String firstLine(String s) {
    return s == null ? "invalid value" : s.lines().findFirst().orElse(s).trim();
  }
}
