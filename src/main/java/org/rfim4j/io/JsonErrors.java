package org.rfim4j.io;

import com.fasterxml.jackson.core.JsonParseException;
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

  /** A one-line description: "'path': problem", or "not valid JSON: ..." for syntax errors. */
  public static String describe(JsonProcessingException e) {
    if (e instanceof JsonParseException || !(e instanceof JsonMappingException)) {
      String m = e.getOriginalMessage() == null ? "parse error" : e.getOriginalMessage();
      m = m.replaceAll("\\s+", " ").replaceAll("\\(for [^)]*\\)", "").trim();
      String where = e.getLocation() == null ? ""
          : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
      return "not valid JSON: " + m + where;
    }
    JsonMappingException m = (JsonMappingException) e;
    String path = path(m);
    String at = path.isEmpty() ? "the document" : "'" + path + "'";
    if (e instanceof UnrecognizedPropertyException u) {
      return "unknown field '" + (path.isEmpty() ? u.getPropertyName() : path) + "'";
    }
    if (e instanceof InvalidNullException) {
      return at + " is null, expected " + kind(((InvalidNullException) e).getTargetType());
    }
    if (e instanceof InvalidFormatException f) {
      return at + " must be " + kind(f.getTargetType()) + ", got " + shortValue(f.getValue());
    }
    if (e instanceof MismatchedInputException mi) {
      String token = mi.getProcessor() instanceof com.fasterxml.jackson.core.JsonParser p && p.currentToken() != null
          ? tokenName(p.currentToken()) : "something else";
      if (mi.getTargetType() == null) {
        return at + ": " + firstLine(m.getOriginalMessage());
      }
      return at + " must be " + kind(mi.getTargetType()) + ", got " + token;
    }
    if (e instanceof ValueInstantiationException) {
      Throwable c = e.getCause();
      return at + ": " + (c != null && c.getMessage() != null ? firstLine(c.getMessage()) : "invalid value");
    }
    return at + ": " + firstLine(m.getOriginalMessage());
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
