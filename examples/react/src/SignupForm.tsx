import { fieldErrors } from "@swill/client/query";
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";

import { swill } from "./swill.js";

/** A unary rpc as a mutation; each validation problem is shown at its field. */
export function SignupForm() {
  const [form, setForm] = useState({ name: "", email: "", age: "" });
  const signup = useMutation(swill.mutationOptions("signup"));
  const errors = fieldErrors(signup.error); // { name?: string, email?: string, age?: string }
  const other = signup.error !== null && Object.keys(errors).length === 0 ? signup.error : null;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    signup.mutate({ name: form.name, email: form.email, age: Number(form.age) });
  };
  const field = (name: keyof typeof form, label: string, type = "text") => (
    <label>
      {label}
      <input
        type={type}
        name={name}
        value={form[name]}
        onChange={(event) => setForm({ ...form, [name]: event.target.value })}
        aria-invalid={errors[name] !== undefined}
      />
      {errors[name] !== undefined && (
        <span className="error" data-testid={`error-${name}`}>
          {errors[name]}
        </span>
      )}
    </label>
  );

  return (
    <section>
      <h2>Sign up (a unary rpc, validation errors at their fields)</h2>
      <form onSubmit={submit}>
        {field("name", "Name")}
        {field("email", "Email")}
        {field("age", "Age", "number")}
        <button type="submit" disabled={signup.isPending}>
          Sign up
        </button>
      </form>
      {signup.isSuccess && (
        <p className="ok" data-testid="signup-ok">
          Welcome, {signup.data.name} (account {String(signup.data.id)})
        </p>
      )}
      {other !== null && (
        <p className="error" data-testid="signup-error">
          {other.code}: {other.message}
        </p>
      )}
    </section>
  );
}
