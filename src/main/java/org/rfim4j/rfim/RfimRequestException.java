package org.rfim4j.rfim;

/** A malformed RFIM request; the one-line message names the offending field. */
public final class RfimRequestException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String field;

  public RfimRequestException(String field, String problem) {
    super("field '" + org.rfim4j.io.JsonErrors.printable(field) + "': "
        + org.rfim4j.io.JsonErrors.printable(problem));
    this.field = field;
  }

  /** The offending field ("request" for problems with the document itself). */
  public String field() {
    return field;
  }
}
