// DDIA ch. 2, Figure 2-1 (a LinkedIn profile) and Example 2-1 (the same profile as JSON), both
// ways: one document per résumé with its one-to-many parts (positions, education, contact info)
// nested inside and its many-to-one parts (region, industry) as ids into shared collections; and
// normalized tables, one per relationship, as the figure draws them. The same questions are
// asked of both (a whole profile; the people of one region with their industry's name), and the
// test and the bench (bench/resume.ts) check the two answers are the same.

export const REGIONS = ['Greater Seattle Area', 'Greater Boston Area', 'London', 'Berlin', 'Bangalore'];
export const INDUSTRIES = ['Philanthropy', 'Software', 'Finance', 'Education', 'Healthcare', 'Retail'];
const TITLES = ['Co-chair', 'Co-founder, Chairman', 'Engineer', 'Analyst', 'Teacher', 'Nurse'];
const ORGS = ['Bill & Melinda Gates Foundation', 'Microsoft', 'Acme', 'Globex', 'Initech'];
const SCHOOLS = ['Harvard University', 'Lakeside School, Seattle', 'MIT', 'ETH Zurich', 'IIT Bombay'];

export interface Resume {
  _id: number;
  first_name: string;
  last_name: string;
  summary: string;
  region_id: number;
  industry_id: number;
  positions: { job_title: string; organization: string }[];
  education: { school_name: string; start: number; end: number | null }[];
  contact_info: { blog: string; twitter: string };
}

/** The n résumés, deterministic: user 251 is the book's Bill Gates. */
export function resumes(n: number): Resume[] {
  return Array.from({ length: n }, (_, i) => {
    const id = 251 + i;
    if (i === 0) {
      return {
        _id: id,
        first_name: 'Bill',
        last_name: 'Gates',
        summary: 'Co-chair of the Bill & Melinda Gates... Active blogger.',
        region_id: 0,
        industry_id: 0,
        positions: [
          { job_title: 'Co-chair', organization: 'Bill & Melinda Gates Foundation' },
          { job_title: 'Co-founder, Chairman', organization: 'Microsoft' },
        ],
        education: [
          { school_name: 'Harvard University', start: 1973, end: 1975 },
          { school_name: 'Lakeside School, Seattle', start: 1970, end: null },
        ],
        contact_info: { blog: 'http://thegatesnotes.com', twitter: 'http://twitter.com/BillGates' },
      };
    }
    return {
      _id: id,
      first_name: `First${i}`,
      last_name: `Last${i}`,
      summary: `Summary of user ${id}.`,
      region_id: i % REGIONS.length,
      industry_id: (i * 7) % INDUSTRIES.length,
      positions: Array.from({ length: 1 + (i % 4) }, (_, k) => ({
        job_title: TITLES[(i + k) % TITLES.length]!,
        organization: ORGS[(i * 3 + k) % ORGS.length]!,
      })),
      education: Array.from({ length: 1 + (i % 2) }, (_, k) => ({
        school_name: SCHOOLS[(i + k * 2) % SCHOOLS.length]!,
        start: 1980 + (i % 30) + k * 4,
        end: k === 0 && i % 5 === 0 ? null : 1984 + (i % 30) + k * 4,
      })),
      contact_info: { blog: `http://blog.example/${id}`, twitter: `http://twitter.com/u${id}` },
    };
  });
}

/** Figure 2-1's tables: users, and one table per one-to-many and many-to-one relationship. */
export const RELATIONAL_SCHEMA = `
  CREATE TABLE regions (id integer PRIMARY KEY, name text NOT NULL);
  CREATE TABLE industries (id integer PRIMARY KEY, name text NOT NULL);
  CREATE TABLE users (
    user_id integer PRIMARY KEY, first_name text, last_name text, summary text,
    region_id integer REFERENCES regions, industry_id integer REFERENCES industries);
  CREATE INDEX users_region ON users (region_id, user_id);
  CREATE TABLE positions (
    position_id serial PRIMARY KEY, user_id integer REFERENCES users, ord integer,
    job_title text, organization text);
  CREATE INDEX positions_user ON positions (user_id);
  CREATE TABLE education (
    education_id serial PRIMARY KEY, user_id integer REFERENCES users, ord integer,
    school_name text, start integer, "end" integer);
  CREATE INDEX education_user ON education (user_id);
  CREATE TABLE contact_info (user_id integer PRIMARY KEY REFERENCES users, blog text, twitter text);`;

/** Rows per table for `resumes(n)`, ready for `INSERT ... SELECT * FROM unnest(...)`. */
export function relationalRows(docs: Resume[]) {
  return {
    users: docs.map((d) => [d._id, d.first_name, d.last_name, d.summary, d.region_id, d.industry_id]),
    positions: docs.flatMap((d) => d.positions.map((p, ord) => [d._id, ord, p.job_title, p.organization])),
    education: docs.flatMap((d) => d.education.map((e, ord) => [d._id, ord, e.school_name, e.start, e.end])),
    contact_info: docs.map((d) => [d._id, d.contact_info.blog, d.contact_info.twitter]),
  };
}

/** A whole profile with its region's and industry's names: two $lookups (many-to-one). */
export const profilePipeline = (id: number) => [
  { $match: { _id: id } },
  { $lookup: { from: 'regions', localField: 'region_id', foreignField: '_id', as: 'region' } },
  { $lookup: { from: 'industries', localField: 'industry_id', foreignField: '_id', as: 'industry' } },
];

/** The same profile from the tables: joins for many-to-one, subqueries for one-to-many. */
export const PROFILE_SQL = `
  SELECT u.user_id, u.first_name, u.last_name, u.summary, r.name AS region, i.name AS industry,
    (SELECT coalesce(json_agg(json_build_object('job_title', p.job_title, 'organization', p.organization)
       ORDER BY p.ord), '[]') FROM positions p WHERE p.user_id = u.user_id) AS positions,
    (SELECT coalesce(json_agg(json_build_object('school_name', e.school_name, 'start', e.start, 'end', e."end")
       ORDER BY e.ord), '[]') FROM education e WHERE e.user_id = u.user_id) AS education,
    c.blog, c.twitter
  FROM users u JOIN regions r ON r.id = u.region_id JOIN industries i ON i.id = u.industry_id
  LEFT JOIN contact_info c ON c.user_id = u.user_id
  WHERE u.user_id = $1`;

/** The people of one region with their industry's name, in id order. */
export const regionPipeline = (region: number, limit: number) => [
  { $match: { region_id: region } },
  { $sort: { _id: 1 } },
  { $limit: limit },
  { $lookup: { from: 'industries', localField: 'industry_id', foreignField: '_id', as: 'industry' } },
  { $project: { first_name: 1, last_name: 1, industry: { $arrayElemAt: ['$industry.name', 0] } } },
];

export const REGION_SQL = `
  SELECT u.user_id, u.first_name, u.last_name, i.name AS industry
  FROM users u JOIN industries i ON i.id = u.industry_id
  WHERE u.region_id = $1 ORDER BY u.user_id LIMIT $2`;

/** One shape for both answers, so they can be compared. */
export interface Profile {
  id: number;
  name: string;
  region: string;
  industry: string;
  positions: { job_title: string; organization: string }[];
  education: { school_name: string; start: number; end: number | null }[];
  blog: string;
}

// biome-ignore lint/suspicious/noExplicitAny: a pipeline's output is a plain document.
export function profileFromDocument(d: any): Profile {
  return {
    id: Number(d._id),
    name: `${d.first_name} ${d.last_name}`,
    region: d.region[0].name,
    industry: d.industry[0].name,
    positions: d.positions,
    education: d.education,
    blog: d.contact_info.blog,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a pg row.
export function profileFromRow(r: any): Profile {
  return {
    id: Number(r.user_id),
    name: `${r.first_name} ${r.last_name}`,
    region: r.region,
    industry: r.industry,
    positions: r.positions,
    education: r.education,
    blog: r.blog,
  };
}
