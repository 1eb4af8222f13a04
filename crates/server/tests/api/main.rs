//! The service's API and pages, endpoint by endpoint, bad input included.

mod appeals;
mod authority;
mod bulk;
mod checkin;
mod code;
mod consent;
mod console;
mod dependants;
mod overload;
mod pages;
mod signin;
mod support;
