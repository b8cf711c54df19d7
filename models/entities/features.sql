-- What entity resolution compares, one row per live customer of every connection: the legal
-- name without legal form, "The", punctuation or "&", and the contact details in one spelling.
CREATE OR REPLACE TEMP MACRO legal_forms() AS [
    'ltd', 'limited', 'inc', 'incorporated', 'llc', 'pty', 'co', 'company', 'corp',
    'corporation', 'gmbh', 'plc', 'llp', 'lp', 'sa', 'sarl', 'bv', 'nv', 'ag', 'srl', 'spa',
    'oy', 'ab', 'kk', 'pte', 'sdn', 'bhd'
];

-- Tokens without the legal forms at their end ("pty ltd" is two).
CREATE OR REPLACE TEMP MACRO without_legal_form(tokens) AS
    CASE WHEN len(tokens) > 1 AND list_contains(legal_forms(), tokens[-1])
         THEN CASE WHEN len(tokens) > 2 AND list_contains(legal_forms(), tokens[-2])
                   THEN CASE WHEN len(tokens) > 3 AND list_contains(legal_forms(), tokens[-3])
                             THEN tokens[:-4] ELSE tokens[:-3] END
                   ELSE tokens[:-2] END
         ELSE tokens END;

CREATE OR REPLACE TEMP MACRO name_tokens(name) AS
    list_filter(
        string_split(
            regexp_replace(
                replace(replace(lower(strip_accents(name)), '&', ' and '), '.', ''),
                '[^a-z0-9]+', ' ', 'g'
            ),
            ' '
        ),
        t -> t <> ''
    );

CREATE OR REPLACE TEMP MACRO normalized_name(name) AS
    array_to_string(
        without_legal_form(
            CASE WHEN name_tokens(name)[1] = 'the' AND len(name_tokens(name)) > 1
                 THEN name_tokens(name)[2:] ELSE name_tokens(name) END
        ),
        ' '
    );

CREATE OR REPLACE TEMP MACRO web_domain(website) AS
    nullif(regexp_extract(lower(trim(website)), '^(?:[a-z]+://)?(?:www\.)?([^/:?#]+)', 1), '');

CREATE OR REPLACE TEMP TABLE customer_features AS
WITH cleaned AS (
    SELECT connection_id || ':' || customer_id AS unique_id,
           connection_id,
           source,
           customer_id,
           -- A connection that calls no customer a person (Carbon calls every one a company)
           -- does not tell persons from companies: its kinds are unknown, not 'company'.
           CASE WHEN bool_or(kind = 'person') OVER (PARTITION BY connection_id) THEN kind END
               AS kind,
           nullif(normalized_name(name), '') AS name_norm,
           nullif(lower(trim(email)), '') AS email,
           nullif(split_part(lower(trim(email)), '@', 2), '') AS email_domain,
           web_domain(website) AS website_domain,
           CASE WHEN length(regexp_replace(phone, '[^0-9]', '', 'g')) >= 7
                THEN right(regexp_replace(phone, '[^0-9]', '', 'g'), 10) END AS phone,
           nullif(upper(regexp_replace(tax_id, '[^A-Za-z0-9]', '', 'g')), '') AS tax_id,
           nullif(upper(regexp_replace(postal_code, '\s', '', 'g')), '') AS postal_code,
           currency_code
    FROM canonical.customers
    WHERE deleted_at IS NULL
),
-- A domain that many differently named customers write from is a mail provider, not a
-- business: it says nothing about who they are.
shared_domains AS (
    SELECT email_domain AS domain
    FROM cleaned
    WHERE email_domain IS NOT NULL
    GROUP BY email_domain
    HAVING count(DISTINCT name_norm) > $shared_domain_names
),
-- How many first names wear each person's surname here: one person (and a relative or two)
-- for a rare surname, ever more as the warehouse grows for a common one, whose equal full
-- names are then often namesakes.
surname_spread AS (
    SELECT string_split(name_norm, ' ')[-1] AS surname,
           count(DISTINCT string_split(name_norm, ' ')[1]) AS first_names
    FROM cleaned
    WHERE kind = 'person' AND len(string_split(name_norm, ' ')) >= 2
    GROUP BY ALL
),
-- Blocking keys: the first and the last four letters of each name word of four letters or more
-- (one typo leaves one of them intact), unless so many customers share a key that it would
-- compare thousands of pairs that mostly differ.
name_keys AS (
    SELECT unique_id, unnest(list_distinct(flatten(list_transform(
               list_filter(string_split(name_norm, ' '), t -> length(t) >= 4),
               t -> ['<' || left(t, 4), right(t, 4) || '>']
           )))) AS name_key
    FROM cleaned
),
usable_keys AS (
    SELECT unique_id, list(name_key ORDER BY name_key) AS name_keys
    FROM name_keys
    WHERE name_key IN (
        SELECT name_key FROM name_keys GROUP BY name_key HAVING count(*) <= $max_key_customers
    )
    GROUP BY unique_id
)
SELECT c.* EXCLUDE (email_domain, website_domain),
       coalesce(
           if(c.email_domain IN (SELECT domain FROM shared_domains), NULL, c.email_domain),
           c.website_domain
       ) AS domain,
       coalesce(k.name_keys, []::VARCHAR[]) AS name_keys,
       s.first_names AS surname_first_names
FROM cleaned c
LEFT JOIN usable_keys k USING (unique_id)
LEFT JOIN surname_spread s
       ON c.kind = 'person' AND s.surname = string_split(c.name_norm, ' ')[-1];
